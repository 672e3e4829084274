/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest program of tests/boot/test_mem4g.sh: i386 Linux, no libc (built by
 * the test with cc -m32 -ffreestanding -nostdlib -static). It maps HT_MIB of
 * anonymous memory, writes a pattern into every page, and looks each page's
 * frame up in /proc/self/pagemap (init runs as root, so frames are shown):
 * how much of it sits above 4 GiB physical, and none in the PCI hole. Then
 * it waits for "go" on stdin (init fills tmpfs meanwhile, so that together
 * more than 3.5 GiB is in use and RAM below 4 GiB, 3 GiB at most, cannot
 * hold it), prints the kernel's memory counts and "holding" (the test takes
 * a checkpoint there), reads every page back and prints the result. Exit 0
 * only if some pages were above 4 GiB, none was in the hole or missing, and
 * every word read back as written. */

typedef unsigned int u32;
typedef unsigned long long u64;

#define NR_exit 1
#define NR_read 3
#define NR_write 4
#define NR_open 5
#define NR_lseek 19
#define NR_mmap2 192

#define CHUNK (64u << 20)
#define CHUNK_PAGES (CHUNK >> 12)
#define HT_MIB 1856u                       /* 29 chunks: fits a process's 3 GiB */
#define MAX_CHUNKS (HT_MIB / 64)
#define PFN_HOLE 0xc0000ull                /* 3 GiB: lbvm's PCI hole starts here */
#define PFN_4G 0x100000ull

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

/* mmap2(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) */
static u32 map_anon(u32 len)
{
    long r;
    __asm__ volatile("push %%ebp\n\txor %%ebp, %%ebp\n\tint $0x80\n\tpop %%ebp"
                     : "=a"(r)
                     : "a"(NR_mmap2), "b"(0), "c"(len), "d"(3), "S"(0x22), "D"(-1)
                     : "memory");
    return (u32)r;
}

static char out[256];
static int olen;

static void put(const char *s)
{
    while (*s && olen < (int)sizeof out)
        out[olen++] = *s++;
}

static void putu(u64 v)
{
    char b[24];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && olen < (int)sizeof out)
        out[olen++] = b[--n];
}

static void puthex(u64 v)
{
    char b[20];
    int n = 0;
    do {
        b[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    put("0x");
    while (n && olen < (int)sizeof out)
        out[olen++] = b[--n];
}

static void flush(void)
{
    put("\n");
    sys3(NR_write, 1, (long)out, olen);
    olen = 0;
}

static void die(const char *why)
{
    put("LBVM-TEST: error hightouch: ");
    put(why);
    flush();
    sys3(NR_exit, 2, 0, 0);
    for (;;)
        ;
}

/* 64 words per page, one every 64 bytes: every page is written, and a
 * checkpoint still compresses them well. */
static u32 word(u32 page, u32 i)
{
    return page * 2654435761u ^ i * 40503u ^ 0x4c42564du;
}

static u64 pm[CHUNK_PAGES];
static u32 chunk_at[MAX_CHUNKS];

void _start(void)
{
    long fd = sys3(NR_open, (long)"/proc/self/pagemap", 0, 0);
    if (fd < 0)
        die("cannot open /proc/self/pagemap");
    u32 nchunks = 0;
    u64 high = 0, hole = 0, absent = 0, maxpfn = 0;
    while (nchunks < MAX_CHUNKS) {
        u32 a = map_anon(CHUNK);
        if (a > 0xfffff000u)
            die("mmap2 failed");
        for (u32 p = 0; p < CHUNK_PAGES; p++) {
            volatile u32 *w = (volatile u32 *)(a + (p << 12));
            for (u32 i = 0; i < 64; i++)
                w[i * 16] = word(nchunks * CHUNK_PAGES + p, i);
        }
        if (sys3(NR_lseek, fd, (long)((a >> 12) * 8), 0) < 0)
            die("lseek in pagemap failed");
        for (u32 got = 0; got < sizeof pm;) {
            long n = sys3(NR_read, fd, (long)((char *)pm + got), (long)(sizeof pm - got));
            if (n <= 0)
                die("reading pagemap failed");
            got += (u32)n;
        }
        for (u32 p = 0; p < CHUNK_PAGES; p++) {
            u64 e = pm[p], pfn = e & ((1ull << 55) - 1);
            if (!(e >> 63))
                absent++;
            else if (pfn >= PFN_4G)
                high++;
            else if (pfn >= PFN_HOLE)
                hole++;
            if (pfn > maxpfn)
                maxpfn = pfn;
        }
        chunk_at[nchunks++] = a;
    }
    put("LBVM-TEST: hightouch touched ");
    putu((u64)nchunks * (CHUNK >> 20));
    put(" MiB, ");
    putu(high >> 8);
    put(" MiB above 4 GiB");
    flush();

    /* init's fill of tmpfs ends with "go" on our stdin */
    char c = 0;
    while (c != 'g')
        if (sys3(NR_read, 0, (long)&c, 1) != 1)
            die("stdin ended without go: the tmpfs fill failed");
    static char mi[4096];
    long fm = sys3(NR_open, (long)"/proc/meminfo", 0, 0), n = fm < 0 ? -1 : sys3(NR_read, fm, (long)mi, sizeof mi - 1);
    if (n <= 0)
        die("cannot read /proc/meminfo");
    for (long i = 0; i < n;) {
        long j = i;
        while (j < n && mi[j] != '\n')
            j++;
        if (mi[i] == 'M' || mi[i] == 'H') {     /* MemTotal MemFree MemAvailable HighTotal HighFree */
            mi[j] = 0;
            put("LBVM-TEST: result meminfo ");
            put(mi + i);
            flush();
        }
        i = j + 1;
    }
    put("LBVM-TEST: hightouch holding");
    flush();

    u64 bad = 0;
    u32 sum = 0;
    for (u32 c2 = 0; c2 < nchunks; c2++)
        for (u32 p = 0; p < CHUNK_PAGES; p++) {
            const volatile u32 *w = (const volatile u32 *)(chunk_at[c2] + (p << 12));
            for (u32 i = 0; i < 1024; i += (i & 15) ? 15 : 1) {   /* the pattern, and a zero word after each */
                u32 want = (i & 15) ? 0 : word(c2 * CHUNK_PAGES + p, i >> 4);
                bad += w[i] != want;
                sum = sum * 31 + w[i];
            }
        }
    put("LBVM-TEST: result hightouch mib=");
    putu((u64)nchunks * (CHUNK >> 20));
    put(" high-mib=");
    putu(high >> 8);
    put(" max-frame=");
    puthex(maxpfn);
    put(" hole=");
    putu(hole);
    put(" absent=");
    putu(absent);
    put(" bad=");
    putu(bad);
    put(" sum=");
    puthex(sum);
    flush();
    sys3(NR_exit, high && !hole && !absent && !bad ? 0 : 1, 0, 0);
    for (;;)
        ;
}
