/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Raw disk backend: create (sparse, no overwrite), size checks, read/write,
 * range and read-only refusal. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "devices/disk.h"

int main(void)
{
    char dir[] = "/tmp/lbvm-disk-XXXXXX", path[128], odd[128], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.img", dir);
    snprintf(odd, sizeof odd, "%s/odd.img", dir);

    /* create: 1 MiB, sparse; a second create and odd sizes are refused */
    CHECK_EQ(disk_create_raw(path, 1 << 20, err, sizeof err), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_size, 1 << 20);
    CHECK(st.st_blocks * 512 < (1 << 20));      /* sparse */
    CHECK_EQ(disk_create_raw(path, 1 << 20, err, sizeof err), -1);
    CHECK(strstr(err, "exists") != NULL);
    CHECK_EQ(disk_create_raw(odd, 1000, err, sizeof err), -1);
    CHECK(access(odd, F_OK) != 0);
    CHECK_EQ(disk_create_raw(odd, 0, err, sizeof err), -1);

    /* open: size not a multiple of 512 is refused */
    FILE *f = fopen(odd, "wb");
    CHECK(f != NULL);
    static const uint8_t junk[700];
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    CHECK(disk_open_raw(odd, 0, err, sizeof err) == NULL);
    CHECK(disk_open_raw("/nonexistent/x.img", 0, err, sizeof err) == NULL);

    Disk *d = disk_open_raw(path, 0, err, sizeof err);
    CHECK(d != NULL);
    if (!d)
        return check_done();
    CHECK_EQ(disk_sectors(d), 2048);
    CHECK_EQ(disk_read_only(d), 0);

    uint8_t buf[4 * 512], back[4 * 512];
    memset(buf, 0xaa, sizeof buf);
    CHECK_EQ(disk_read(d, 100, 4, buf), 0);
    int zero = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        zero &= buf[i] == 0;
    CHECK(zero);

    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    CHECK_EQ(disk_write(d, 2044, 4, buf), 0);  /* the last 4 sectors */
    memset(back, 0, sizeof back);
    CHECK_EQ(disk_read(d, 2044, 4, back), 0);
    CHECK(memcmp(buf, back, sizeof buf) == 0);
    CHECK_EQ(disk_flush(d), 0);

    /* out of range: one past the end, and a huge LBA that would wrap */
    CHECK_EQ(disk_read(d, 2045, 4, back), -1);
    CHECK_EQ(disk_write(d, 2048, 1, buf), -1);
    CHECK_EQ(disk_read(d, UINT64_MAX, 2, back), -1);
    CHECK_EQ(disk_read(d, 2048, 0, back), 0);
    disk_close(d);

    /* the bytes are in the file at the right offset */
    f = fopen(path, "rb");
    CHECK(f != NULL);
    fseek(f, 2044L * 512, SEEK_SET);
    memset(back, 0, sizeof back);
    CHECK_EQ(fread(back, 1, sizeof back, f), sizeof back);
    fclose(f);
    CHECK(memcmp(buf, back, sizeof buf) == 0);

    /* read-only: reads work, writes are refused and change nothing */
    d = disk_open_raw(path, 1, err, sizeof err);
    CHECK(d != NULL);
    if (d) {
        CHECK_EQ(disk_read_only(d), 1);
        memset(back, 0x55, sizeof back);
        CHECK_EQ(disk_write(d, 2044, 4, back), -1);
        CHECK_EQ(disk_read(d, 2044, 4, back), 0);
        CHECK(memcmp(buf, back, sizeof buf) == 0);
        disk_close(d);
    }

    unlink(path);
    unlink(odd);
    rmdir(dir);
    return check_done();
}
