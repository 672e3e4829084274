/* SPDX-License-Identifier: GPL-2.0-or-later */
/* AHCI HBA, ICH9 identity (AHCI 1.3 spec; ATA8-ACS for the device side).
 * Guest memory is reached only through guest RAM (base/guestram.h: below the
 * PCI hole and above 4 GiB): every address the guest hands over (command
 * list, received-FIS area, command table, each PRD) is checked to lie wholly
 * in RAM before use (in the hole or past RAM's end: refused), and PRDs are
 * checked again at the time they are used, so a guest DMA that rewrites its
 * own PRDT cannot slip an address past the checks. A failed check is a host
 * bus fatal error. */
#include "devices/ahci.h"
#include "devices/ata.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AHCI_CMD_HDR_SIZE   32
#define AHCI_CMD_TBL_PRDT   0x80    /* PRDT offset in the command table */
#define AHCI_PRD_SIZE       16
#define AHCI_PRD_DBC_MASK   0x3fffff
#define AHCI_PRD_I          (1u << 31)
#define AHCI_HDR_CFL_MASK   0x1f
#define AHCI_CHUNK_SECTORS  128     /* bounce buffer: 64 KiB */

/* Internal results besides ATA error register values (> 0). */
#define AHCI_OK             0
#define AHCI_EHBF           (-1)    /* address outside guest RAM */
#define AHCI_EOVF           (-2)    /* PRDT shorter than the transfer */
#define AHCI_EHOST          (-3)    /* the host's I/O failed: see s->host_error */

/* ATA commands (ATA8-ACS) */
#define ATA_READ_DMA_EXT        0x25
#define ATA_READ_NATIVE_MAX_EXT 0x27
#define ATA_WRITE_DMA_EXT       0x35
#define ATA_READ_DMA            0xc8
#define ATA_WRITE_DMA           0xca
#define ATA_STANDBY_IMMEDIATE   0xe0
#define ATA_IDLE_IMMEDIATE      0xe1
#define ATA_STANDBY             0xe2
#define ATA_IDLE                0xe3
#define ATA_CHECK_POWER_MODE    0xe5
#define ATA_FLUSH_CACHE         0xe7
#define ATA_FLUSH_CACHE_EXT     0xea
#define ATA_IDENTIFY_DEVICE     0xec
#define ATA_SET_FEATURES        0xef
#define ATA_CTL_SRST            0x04

#define ATA_STS_OK  (ATA_STS_DRDY | ATA_STS_DSC)

/* Device-to-host task file contents. */
typedef struct AHCITaskFile {
    uint8_t status, error, device;
    uint16_t count;
    uint64_t lba;
} AHCITaskFile;

/* Scatter/gather cursor over a PRDT, with the pending RAM-written range. */
typedef struct AHCISg {
    uint64_t prdt_pa;
    uint32_t prdtl, idx;
    uint64_t off, done;
    uint64_t dirty_pa, dirty_len;
} AHCISg;

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int ahci_ram_ok(const AHCIState *s, uint64_t pa, uint64_t len)
{
    return guest_ram_offset(&s->mem, pa, len) != UINT64_MAX;
}

/* Callers have checked the range. */
static void ahci_ram_write(AHCIState *s, uint64_t pa, const void *src, uint64_t len)
{
    memcpy(guest_ram_ptr(&s->mem, pa, len), src, len);
    if (s->dma_written)
        s->dma_written(s->opaque, pa, len);
}

/* HBA IS bit n latches whenever port n has an enabled event; software
 * clears it, and it sets again while the port event is still pending. */
static void ahci_update_irq(AHCIState *s)
{
    for (int i = 0; i < AHCI_NUM_PORTS; i++)
        if (s->port[i].is & s->port[i].ie)
            s->is |= 1u << i;
    pci_set_irq(s->pci, (s->ghc & AHCI_GHC_IE) && s->is);
}

/* ---- FIS construction (SATA 2.6, 10.3) ---- */

static void ahci_fis_taskfile(uint8_t *fis, const AHCITaskFile *tf)
{
    fis[2] = tf->status;
    fis[3] = tf->error;
    fis[4] = (uint8_t)tf->lba;
    fis[5] = (uint8_t)(tf->lba >> 8);
    fis[6] = (uint8_t)(tf->lba >> 16);
    fis[7] = tf->device;
    fis[8] = (uint8_t)(tf->lba >> 24);
    fis[9] = (uint8_t)(tf->lba >> 32);
    fis[10] = (uint8_t)(tf->lba >> 40);
    fis[12] = (uint8_t)tf->count;
    fis[13] = (uint8_t)(tf->count >> 8);
}

/* Posts a D2H register FIS and loads PxTFD. FB was checked by the caller. */
static void ahci_post_d2h(AHCIState *s, int n, const AHCITaskFile *tf)
{
    AHCIPort *p = &s->port[n];
    if (p->cmd & AHCI_PxCMD_FRE) {
        uint8_t fis[20] = { FIS_TYPE_REG_D2H, 0x40 /* I */ };
        ahci_fis_taskfile(fis, tf);
        ahci_ram_write(s, (uint64_t)p->fb + AHCI_RFIS_RFIS, fis, sizeof fis);
    }
    p->tfd = (uint32_t)tf->error << 8 | tf->status;
    p->is |= AHCI_PxIS_DHRS;
}

/* PIO Setup FIS for a data-in command; Linux takes the ending status from
 * E_Status (byte 15) of this FIS, not from the D2H FIS. */
static void ahci_post_pio_setup(AHCIState *s, int n, const AHCITaskFile *tf, uint16_t bytes)
{
    AHCIPort *p = &s->port[n];
    if (p->cmd & AHCI_PxCMD_FRE) {
        uint8_t fis[20] = { FIS_TYPE_PIO_SETUP, 0x60 /* I, D = device to host */ };
        ahci_fis_taskfile(fis, tf);
        fis[2] = tf->status | ATA_STS_DRQ;
        fis[15] = tf->status;
        fis[16] = (uint8_t)bytes;
        fis[17] = (uint8_t)(bytes >> 8);
        ahci_ram_write(s, (uint64_t)p->fb + AHCI_RFIS_PSFIS, fis, sizeof fis);
    }
    p->is |= AHCI_PxIS_PSS;
}

/* ---- port state ---- */

/* Link and device state after power-on or COMRESET: an ATA device posts its
 * signature (count 1, LBA 1) with error 01h = diagnostics passed. */
static void ahci_port_link(AHCIState *s, int n)
{
    AHCIPort *p = &s->port[n];
    if (s->disk[n]) {
        p->sig = AHCI_SIG_ATA;
        p->ssts = AHCI_SSTS_PRESENT;
        p->tfd = 0x01 << 8 | ATA_STS_OK;
    } else {
        p->sig = AHCI_SIG_NONE;
        p->ssts = 0;
        p->tfd = 0x7f;      /* no device: what QEMU and real HBAs show */
    }
}

static void ahci_port_reset(AHCIState *s, int n, int power_on)
{
    AHCIPort *p = &s->port[n];
    /* GHC.HR leaves the command list and FIS bases alone. */
    if (power_on) {
        p->clb = 0;
        p->fb = 0;
    }
    p->is = 0;
    p->ie = 0;
    /* CAP.SSS = 0 and no cold presence detect: SUD and POD read 1 (3.3.7). */
    p->cmd = AHCI_PxCMD_SUD | AHCI_PxCMD_POD;
    p->sctl = 0;
    p->serr = 0;
    p->sact = 0;
    p->ci = 0;
    p->halted = 0;
    ahci_port_link(s, n);
}

static void ahci_hba_reset(AHCIState *s, int power_on)
{
    s->ghc = AHCI_GHC_AE;
    s->is = 0;
    for (int i = 0; i < AHCI_NUM_PORTS; i++)
        ahci_port_reset(s, i, power_on);
    ahci_update_irq(s);
}

/* A guest address failed its check: stop the port (AHCI 1.3, 6.1.2). */
static void ahci_port_fatal(AHCIState *s, int n)
{
    AHCIPort *p = &s->port[n];
    p->is |= AHCI_PxIS_HBFS;
    p->tfd = (uint32_t)ATA_ERR_ABRT << 8 | ATA_STS_OK | ATA_STS_ERR;
    /* Only a running command list can halt: a bad FIS base met by a COMRESET
     * while ST is clear must not leave the port halted once ST is set. */
    if (p->cmd & AHCI_PxCMD_ST)
        p->halted = 1;
}

static int ahci_fb_ok(const AHCIState *s, int n)
{
    const AHCIPort *p = &s->port[n];
    return !(p->cmd & AHCI_PxCMD_FRE) || ahci_ram_ok(s, p->fb, AHCI_RFIS_SIZE);
}

/* Device reset (COMRESET or SRST released): new signature FIS. */
static void ahci_port_signature(AHCIState *s, int n)
{
    ahci_port_link(s, n);
    if (!s->disk[n])
        return;
    if (!ahci_fb_ok(s, n)) {
        ahci_port_fatal(s, n);
        return;
    }
    AHCITaskFile tf = { .status = ATA_STS_OK, .error = 0x01, .count = 1, .lba = 1 };
    ahci_post_d2h(s, n, &tf);
}

/* ---- scatter/gather ---- */

/* Before any data moves: the PRDs covering `need` bytes lie in RAM and add
 * up to at least `need`. Sets *dps if one of them asks for an interrupt. */
static int ahci_prdt_check(const AHCIState *s, const AHCISg *sg, uint64_t need, int *dps)
{
    uint64_t have = 0;
    for (uint32_t i = 0; i < sg->prdtl && have < need; i++) {
        const uint8_t *e = guest_ram_ptr(&s->mem, sg->prdt_pa + (uint64_t)AHCI_PRD_SIZE * i, AHCI_PRD_SIZE);
        if (!e)
            return AHCI_EHBF;
        uint64_t dba = ld32(e) & ~1u, len = (ld32(e + 12) & AHCI_PRD_DBC_MASK) + 1;
        if (ld32(e + 4) || !ahci_ram_ok(s, dba, len))
            return AHCI_EHBF;
        if (ld32(e + 12) & AHCI_PRD_I)
            *dps = 1;
        have += len;
    }
    return have < need ? AHCI_EOVF : AHCI_OK;
}

static void ahci_sg_notify(AHCIState *s, AHCISg *sg)
{
    if (sg->dirty_len && s->dma_written)
        s->dma_written(s->opaque, sg->dirty_pa, sg->dirty_len);
    sg->dirty_len = 0;
}

/* Copies len bytes between buf and the PRDT's buffers; contiguous RAM writes
 * are reported to dma_written as one range. */
static int ahci_sg_copy(AHCIState *s, AHCISg *sg, uint8_t *buf, uint64_t len, int to_ram)
{
    while (len) {
        if (sg->idx >= sg->prdtl)
            return AHCI_EOVF;
        const uint8_t *e = guest_ram_ptr(&s->mem, sg->prdt_pa + (uint64_t)AHCI_PRD_SIZE * sg->idx, AHCI_PRD_SIZE);
        if (!e)
            return AHCI_EHBF;
        uint64_t dba = ld32(e) & ~1u, elen = (ld32(e + 12) & AHCI_PRD_DBC_MASK) + 1;
        if (ld32(e + 4) || !ahci_ram_ok(s, dba, elen))
            return AHCI_EHBF;
        if (sg->off >= elen) {  /* the entry shrank under us */
            sg->idx++;
            sg->off = 0;
            continue;
        }
        uint64_t pa = dba + sg->off, n = elen - sg->off < len ? elen - sg->off : len;
        if (to_ram) {
            memcpy(guest_ram_ptr(&s->mem, pa, n), buf, n);
            if (sg->dirty_len && sg->dirty_pa + sg->dirty_len == pa) {
                sg->dirty_len += n;
            } else {
                ahci_sg_notify(s, sg);
                sg->dirty_pa = pa;
                sg->dirty_len = n;
            }
        } else {
            memcpy(buf, guest_ram_ptr(&s->mem, pa, n), n);
        }
        buf += n;
        len -= n;
        sg->done += n;
        sg->off += n;
        if (sg->off == elen) {
            sg->idx++;
            sg->off = 0;
        }
    }
    return AHCI_OK;
}

/* ---- ATA commands ---- */

/* IDENTIFY DEVICE data (ATA8-ACS 7.16.7). */
static void ahci_identify(const AHCIState *s, int n, uint8_t *out)
{
    uint16_t w[256];
    char serial[21];
    uint64_t sectors = disk_sectors(s->disk[n]);
    uint32_t lba28 = sectors > 0x0fffffff ? 0x0fffffff : (uint32_t)sectors;
    uint32_t cyl = sectors / (16 * 63) > 16383 ? 16383 : (uint32_t)(sectors / (16 * 63));

    memset(w, 0, sizeof w);
    w[0] = 0x0040;                      /* fixed device */
    w[1] = (uint16_t)cyl;
    w[3] = 16;
    w[6] = 63;
    snprintf(serial, sizeof serial, "LBVM%04d", n);
    ata_put_string(w + 10, 10, serial);
    ata_put_string(w + 23, 4, "1.0");
    ata_put_string(w + 27, 20, "lbvm disk");
    w[47] = 0x8000;                     /* READ/WRITE MULTIPLE not supported */
    w[49] = 1 << 11 | 1 << 9 | 1 << 8;  /* IORDY, LBA, DMA */
    w[50] = 0x4000;
    w[53] = 0x0007;                     /* words 54-58, 64-70, 88 valid */
    w[54] = (uint16_t)cyl;
    w[55] = 16;
    w[56] = 63;
    w[57] = (uint16_t)(cyl * 16 * 63);
    w[58] = (uint16_t)((cyl * 16 * 63) >> 16);
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[63] = 0x0007;                     /* multiword DMA 0-2 supported */
    w[64] = 0x0003;                     /* PIO 3-4 */
    w[65] = w[66] = w[67] = w[68] = 120;
    w[76] = 1 << 1;                     /* SATA Gen1; no NCQ (bit 8) */
    w[80] = 0x01f0;                     /* ATA/ATAPI-4 .. ATA8-ACS */
    w[82] = 1 << 14 | 1 << 5 | 1 << 3;  /* NOP, write cache, power management */
    w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10; /* FLUSH EXT, FLUSH, LBA48 */
    w[84] = 1 << 14;
    w[85] = w[82];                      /* all of them enabled */
    w[86] = 1 << 13 | 1 << 12 | 1 << 10;
    w[87] = 1 << 14;
    w[88] = 0x203f;                     /* UDMA 0-5 supported, mode 5 selected */
    for (int i = 0; i < 4; i++)
        w[100 + i] = (uint16_t)(sectors >> (16 * i));
    w[106] = 0x4000;                    /* 1 logical sector per physical; 512 bytes */
    w[117] = 256;                       /* words per logical sector (used with w106 bit 12) */
    ata_identify_bytes(w, out);
}

/* The host failed an I/O the guest did nothing wrong to cause. */
static int ahci_host_failure(AHCIState *s, int n, const char *what, uint64_t lba, uint32_t count, int err)
{
    snprintf(s->host_error, sizeof s->host_error, "disk %d: cannot %s %u sectors at LBA %llu: %s", n, what,
             (unsigned)count, (unsigned long long)lba, err ? strerror(err) : "I/O error");
    if (s->host_failed)
        s->host_failed(s->opaque);
    return AHCI_EHOST;
}

/* DMA between the disk and the PRDT, 64 KiB at a time. */
static int ahci_rw(AHCIState *s, int n, AHCISg *sg, uint64_t lba, uint32_t count, int write)
{
    Disk *d = s->disk[n];
    int dps = 0;
    if (lba > disk_sectors(d) || count > disk_sectors(d) - lba)
        return ATA_ERR_IDNF | ATA_ERR_ABRT;
    int r = ahci_prdt_check(s, sg, (uint64_t)count * DISK_SECTOR_SIZE, &dps);
    if (r)
        return r;
    uint32_t chunk = count < AHCI_CHUNK_SECTORS ? count : AHCI_CHUNK_SECTORS;
    uint8_t *buf = malloc((size_t)chunk * DISK_SECTOR_SIZE);
    if (!buf)
        return ATA_ERR_ABRT;
    s->n_transfers++;
    while (count && !r) {
        uint32_t c = count < chunk ? count : chunk;
        uint64_t len = (uint64_t)c * DISK_SECTOR_SIZE;
        if (write) {
            r = ahci_sg_copy(s, sg, buf, len, 0);
            errno = 0;
            if (!r && disk_write(d, lba, c, buf))
                r = disk_read_only(d) ? ATA_ERR_ABRT : ahci_host_failure(s, n, "write", lba, c, errno);
        } else {
            errno = 0;
            r = disk_read(d, lba, c, buf) ? ahci_host_failure(s, n, "read", lba, c, errno)
                                          : ahci_sg_copy(s, sg, buf, len, 1);
        }
        lba += c;
        count -= c;
    }
    free(buf);
    ahci_sg_notify(s, sg);
    if (!r && dps)
        s->port[n].is |= AHCI_PxIS_DPS;
    return r;
}

/* Runs one H2D register FIS; fills tf. Returns AHCI_OK, an ATA error
 * register value, or AHCI_EHBF/AHCI_EOVF. *pio is set for PIO data-in. */
static int ahci_ata_cmd(AHCIState *s, int n, const uint8_t *fis, AHCISg *sg, AHCITaskFile *tf, int *pio)
{
    uint64_t lba48 = (uint64_t)fis[4] | (uint64_t)fis[5] << 8 | (uint64_t)fis[6] << 16 |
                     (uint64_t)fis[8] << 24 | (uint64_t)fis[9] << 32 | (uint64_t)fis[10] << 40;
    uint32_t count48 = fis[12] | fis[13] << 8;
    /* LBA28 only in LBA mode; CHS addressing is not supported. */
    uint64_t lba28 = (uint64_t)fis[4] | (uint64_t)fis[5] << 8 | (uint64_t)fis[6] << 16 |
                     (uint64_t)(fis[7] & 0x0f) << 24;
    uint32_t count28 = fis[12];
    uint8_t buf[512];
    int dps = 0, r;

    switch (fis[2]) {
    case ATA_IDENTIFY_DEVICE:
        r = ahci_prdt_check(s, sg, sizeof buf, &dps);
        if (r)
            return r;
        ahci_identify(s, n, buf);
        r = ahci_sg_copy(s, sg, buf, sizeof buf, 1);
        ahci_sg_notify(s, sg);
        if (!r && dps)
            s->port[n].is |= AHCI_PxIS_DPS;
        *pio = 1;
        return r;
    case ATA_READ_DMA_EXT:
    case ATA_WRITE_DMA_EXT:
        return ahci_rw(s, n, sg, lba48, count48 ? count48 : 65536, fis[2] == ATA_WRITE_DMA_EXT);
    case ATA_READ_DMA:
    case ATA_WRITE_DMA:
        if (!(fis[7] & 0x40))
            return ATA_ERR_ABRT;
        return ahci_rw(s, n, sg, lba28, count28 ? count28 : 256, fis[2] == ATA_WRITE_DMA);
    case ATA_FLUSH_CACHE:
    case ATA_FLUSH_CACHE_EXT:
        errno = 0;
        if (disk_flush(s->disk[n]))
            return disk_read_only(s->disk[n]) ? ATA_ERR_ABRT : ahci_host_failure(s, n, "flush", 0, 0, errno);
        return AHCI_OK;
    case ATA_READ_NATIVE_MAX_EXT:
        tf->lba = disk_sectors(s->disk[n]) - 1;
        tf->device = 0x40;
        return AHCI_OK;
    case ATA_CHECK_POWER_MODE:
        tf->count = 0xff;               /* active or idle */
        return AHCI_OK;
    case ATA_SET_FEATURES:              /* transfer mode, write cache: accepted */
    case ATA_STANDBY_IMMEDIATE:
    case ATA_IDLE_IMMEDIATE:
    case ATA_STANDBY:
    case ATA_IDLE:
        return AHCI_OK;
    default:
        return ATA_ERR_ABRT;
    }
}

/* Executes command slot `slot` of port n (AHCI 1.3, 5.3 and 5.5). */
static void ahci_exec_slot(AHCIState *s, int n, int slot)
{
    AHCIPort *p = &s->port[n];
    uint32_t bit = 1u << slot;
    uint64_t hdr_pa = (uint64_t)p->clb + (uint64_t)AHCI_CMD_HDR_SIZE * slot;

    p->cmd = (p->cmd & ~(0x1fu << AHCI_PxCMD_CCS_SHIFT)) | (uint32_t)slot << AHCI_PxCMD_CCS_SHIFT;
    if (!s->disk[n]) {
        /* No link: the FIS cannot be sent. Leave CI set and stop. */
        p->halted = 1;
        return;
    }
    if (!ahci_ram_ok(s, hdr_pa, AHCI_CMD_HDR_SIZE) || !ahci_fb_ok(s, n)) {
        ahci_port_fatal(s, n);
        return;
    }
    const uint8_t *hdr = guest_ram_ptr(&s->mem, hdr_pa, AHCI_CMD_HDR_SIZE);
    uint32_t dw0 = ld32(hdr), ctba = ld32(hdr + 8) & ~0x7fu, ctbau = ld32(hdr + 12);
    AHCISg sg = { .prdt_pa = (uint64_t)ctba + AHCI_CMD_TBL_PRDT, .prdtl = dw0 >> 16 };
    if (ctbau || !ahci_ram_ok(s, ctba, AHCI_CMD_TBL_PRDT + (uint64_t)AHCI_PRD_SIZE * sg.prdtl)) {
        ahci_port_fatal(s, n);
        return;
    }
    uint8_t fis[20];
    memcpy(fis, guest_ram_ptr(&s->mem, ctba, sizeof fis), sizeof fis);

    AHCITaskFile tf = { .status = ATA_STS_OK };
    int pio = 0, r;
    if (fis[0] == FIS_TYPE_REG_H2D && !(fis[1] & 0x80)) {
        /* Device control FIS (C = 0), as Linux's softreset sends: setting
         * SRST completes silently, clearing it resets the device. */
        if (!(fis[15] & ATA_CTL_SRST))
            ahci_port_signature(s, n);
        if (!p->halted)
            p->ci &= ~bit;
        return;
    }
    if (fis[0] != FIS_TYPE_REG_H2D || (dw0 & AHCI_HDR_CFL_MASK) < 5)
        r = ATA_ERR_ABRT;
    else
        r = ahci_ata_cmd(s, n, fis, &sg, &tf, &pio);

    if (r == AHCI_EHBF) {
        ahci_port_fatal(s, n);
        return;
    }
    if (r == AHCI_EHOST) {
        /* Nothing reaches the guest: CI stays set, no FIS, no interrupt. */
        p->halted = 1;
        return;
    }
    /* PRD byte count: DW1 of the header, checked above. */
    uint8_t prdbc[4];
    st32(prdbc, (uint32_t)sg.done);
    ahci_ram_write(s, hdr_pa + 4, prdbc, sizeof prdbc);
    if (r) {
        tf.status = ATA_STS_OK | ATA_STS_ERR;
        tf.error = r == AHCI_EOVF ? ATA_ERR_ABRT : (uint8_t)r;
        tf.count = 0;
        ahci_post_d2h(s, n, &tf);
        p->is |= AHCI_PxIS_TFES | (r == AHCI_EOVF ? AHCI_PxIS_OFS : 0);
        p->halted = 1;
        return;
    }
    if (pio)
        ahci_post_pio_setup(s, n, &tf, 512);
    ahci_post_d2h(s, n, &tf);
    p->ci &= ~bit;
}

/* Lowest slot first; stops at an error until software restarts the port. */
static void ahci_port_run(AHCIState *s, int n)
{
    AHCIPort *p = &s->port[n];
    while ((p->cmd & AHCI_PxCMD_ST) && !p->halted && p->ci)
        ahci_exec_slot(s, n, __builtin_ctz(p->ci));
    ahci_update_irq(s);
}

/* ---- registers ---- */

static uint32_t ahci_cap(void)
{
    return (AHCI_NUM_PORTS - 1) << AHCI_CAP_NP_SHIFT | (AHCI_NUM_SLOTS - 1) << AHCI_CAP_NCS_SHIFT |
           AHCI_CAP_SAM | AHCI_CAP_ISS_GEN1 << AHCI_CAP_ISS_SHIFT | AHCI_CAP_SCLO;
}

static uint32_t ahci_port_read(AHCIState *s, int n, uint32_t off)
{
    AHCIPort *p = &s->port[n];
    switch (off) {
    case AHCI_PxCLB:  return p->clb;
    case AHCI_PxFB:   return p->fb;
    case AHCI_PxIS:   return p->is;
    case AHCI_PxIE:   return p->ie;
    case AHCI_PxCMD:  return p->cmd;
    case AHCI_PxTFD:  return p->tfd;
    case AHCI_PxSIG:  return p->sig;
    case AHCI_PxSSTS: return p->ssts;
    case AHCI_PxSCTL: return p->sctl;
    case AHCI_PxSERR: return p->serr;
    case AHCI_PxSACT: return p->sact;
    case AHCI_PxCI:   return p->ci;
    default:          return 0;   /* CLBU/FBU (32-bit only), SNTF, FBS, vendor */
    }
}

static uint32_t ahci_reg_read(AHCIState *s, uint32_t off)
{
    if (off >= AHCI_PORT_BASE && off < AHCI_PORT_BASE + AHCI_NUM_PORTS * AHCI_PORT_SIZE)
        return ahci_port_read(s, (off - AHCI_PORT_BASE) / AHCI_PORT_SIZE, (off - AHCI_PORT_BASE) % AHCI_PORT_SIZE);
    switch (off) {
    case AHCI_CAP: return ahci_cap();
    case AHCI_GHC: return s->ghc;
    case AHCI_IS:  return s->is;
    case AHCI_PI:  return (1u << AHCI_NUM_PORTS) - 1;
    case AHCI_VS:  return AHCI_VS_1_0;
    default:       return 0;
    }
}

static void ahci_port_write_cmd(AHCIState *s, int n, uint32_t val)
{
    AHCIPort *p = &s->port[n];
    uint32_t rw = AHCI_PxCMD_ST | AHCI_PxCMD_FRE;
    p->cmd = (p->cmd & ~rw) | (val & rw);
    /* CLO clears BSY and DRQ and then reads 0 (3.3.7). */
    if (val & AHCI_PxCMD_CLO)
        p->tfd &= ~(uint32_t)(ATA_STS_BSY | ATA_STS_DRQ);
    if (!(p->cmd & AHCI_PxCMD_ST)) {
        /* Clearing ST empties the command list (3.3.14). */
        p->ci = 0;
        p->sact = 0;
        p->halted = 0;
        p->cmd &= ~(0x1fu << AHCI_PxCMD_CCS_SHIFT);
    }
    /* The engines stop at once: CR and FR mirror ST and FRE. */
    p->cmd &= ~(AHCI_PxCMD_CR | AHCI_PxCMD_FR);
    if (p->cmd & AHCI_PxCMD_ST)
        p->cmd |= AHCI_PxCMD_CR;
    if (p->cmd & AHCI_PxCMD_FRE)
        p->cmd |= AHCI_PxCMD_FR;
}

static void ahci_port_write(AHCIState *s, int n, uint32_t off, uint32_t val)
{
    AHCIPort *p = &s->port[n];
    switch (off) {
    case AHCI_PxCLB:
        p->clb = val & ~0x3ffu;         /* 1 KiB aligned */
        break;
    case AHCI_PxFB:
        p->fb = val & ~0xffu;           /* 256-byte aligned */
        break;
    case AHCI_PxIS:
        p->is &= ~val;
        break;
    case AHCI_PxIE:
        p->ie = val & AHCI_PxIS_MASK;
        break;
    case AHCI_PxCMD:
        ahci_port_write_cmd(s, n, val);
        break;
    case AHCI_PxSCTL: {
        uint32_t old_det = p->sctl & AHCI_SCTL_DET_MASK;
        p->sctl = val & 0xfff;          /* IPM, SPD, DET */
        /* DET 1 -> 0 ends a COMRESET: the device answers with its signature. */
        if (old_det == 1 && !(val & AHCI_SCTL_DET_MASK))
            ahci_port_signature(s, n);
        break;
    }
    case AHCI_PxSERR:
        p->serr &= ~val;
        break;
    case AHCI_PxSACT:
        if (p->cmd & AHCI_PxCMD_ST)
            p->sact |= val;
        break;
    case AHCI_PxCI:
        /* Software may only set bits, and only while ST is set. */
        if (p->cmd & AHCI_PxCMD_ST)
            p->ci |= val;
        break;
    default:
        break;
    }
    ahci_port_run(s, n);
}

static void ahci_reg_write(AHCIState *s, uint32_t off, uint32_t val)
{
    if (off >= AHCI_PORT_BASE && off < AHCI_PORT_BASE + AHCI_NUM_PORTS * AHCI_PORT_SIZE) {
        ahci_port_write(s, (off - AHCI_PORT_BASE) / AHCI_PORT_SIZE, (off - AHCI_PORT_BASE) % AHCI_PORT_SIZE, val);
        return;
    }
    switch (off) {
    case AHCI_GHC:
        /* HR completes at once and reads back 0; AE is fixed to 1 (SAM). */
        if (val & AHCI_GHC_HR)
            ahci_hba_reset(s, 0);
        else
            s->ghc = AHCI_GHC_AE | (val & AHCI_GHC_IE);
        break;
    case AHCI_IS:
        s->is &= ~val;
        break;
    default:
        break;
    }
    ahci_update_irq(s);
}

/* Registers whose 0 bits have no effect (write 1 to clear / to set). */
static int ahci_reg_w1(uint32_t off)
{
    if (off >= AHCI_PORT_BASE) {
        off = (off - AHCI_PORT_BASE) % AHCI_PORT_SIZE;
        return off == AHCI_PxIS || off == AHCI_PxSERR || off == AHCI_PxSACT || off == AHCI_PxCI;
    }
    return off == AHCI_IS;
}

static uint32_t ahci_mmio_read(void *opaque, uint32_t off, int size_log2)
{
    uint32_t shift = 8 * (off & 3), bits = 8u << size_log2;
    if (shift + bits > 32)
        return 0;       /* misaligned: the HBA wants naturally aligned accesses */
    uint32_t v = ahci_reg_read(opaque, off & ~3u) >> shift;
    return bits == 32 ? v : v & ((1u << bits) - 1);
}

/* Narrow writes merge with the register; 0 bits of W1C/W1S registers are inert. */
static void ahci_mmio_write(void *opaque, uint32_t off, uint32_t val, int size_log2)
{
    AHCIState *s = opaque;
    uint32_t shift = 8 * (off & 3), bits = 8u << size_log2;
    if (shift + bits > 32)
        return;
    if (bits < 32) {
        uint32_t mask = ((1u << bits) - 1) << shift;
        uint32_t cur = ahci_reg_w1(off & ~3u) ? 0 : ahci_reg_read(s, off & ~3u);
        val = (cur & ~mask) | ((val << shift) & mask);
    }
    ahci_reg_write(s, off & ~3u, val);
}

void ahci_reset(AHCIState *s)
{
    ahci_hba_reset(s, 1);
}

int ahci_attach(AHCIState *s, int port, Disk *disk)
{
    if (port < 0 || port >= AHCI_NUM_PORTS || !disk || s->disk[port])
        return -1;
    s->disk[port] = disk;
    ahci_port_link(s, port);
    return 0;
}

AHCIState *ahci_init(PCIBus *bus, int devfn, int irq_line, uint32_t abar, uint8_t *ram, uint64_t ram_size,
                     AHCIDmaNotify *dma_written, void *opaque)
{
    AHCIState *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->pci = pci_register_device(bus, "ahci", devfn, AHCI_VENDOR_ID, AHCI_DEVICE_ID, AHCI_REVISION, AHCI_CLASS,
                                 1 /* INTA# */, irq_line);
    if (!s->pci) {
        free(s);
        return NULL;
    }
    s->mem = guest_ram(ram, ram_size);
    s->dma_written = dma_written;
    s->opaque = opaque;
    IoRange r = { .opaque = s, .read = ahci_mmio_read, .write = ahci_mmio_write,
                  .flags = IO_SIZE8 | IO_SIZE16 | IO_SIZE32, .name = "ahci" };
    pci_set_bar(s->pci, AHCI_BAR, AHCI_ABAR_SIZE, 0, abar, &r);
    ahci_reset(s);
    return s;
}

/* ---- checkpoints ---- */

#define AHCI_PxCMD_SAVED (AHCI_PxCMD_ST | AHCI_PxCMD_SUD | AHCI_PxCMD_POD | AHCI_PxCMD_FRE | \
                          0x1fu << AHCI_PxCMD_CCS_SHIFT | AHCI_PxCMD_FR | AHCI_PxCMD_CR)

static void ahci_port_state(AHCIState *s, AHCIPort *p, int n, StateIO *io)
{
    char name[32];
#define AHCI_FIELD(f) (snprintf(name, sizeof name, "port[%d]." #f, n), name)
    state_u32(io, AHCI_FIELD(clb), &p->clb);
    state_u32(io, AHCI_FIELD(fb), &p->fb);
    state_u32(io, AHCI_FIELD(is), &p->is);
    state_u32(io, AHCI_FIELD(ie), &p->ie);
    state_u32(io, AHCI_FIELD(cmd), &p->cmd);
    state_u32(io, AHCI_FIELD(tfd), &p->tfd);
    state_u32(io, AHCI_FIELD(sig), &p->sig);
    state_u32(io, AHCI_FIELD(ssts), &p->ssts);
    state_u32(io, AHCI_FIELD(sctl), &p->sctl);
    state_u32(io, AHCI_FIELD(serr), &p->serr);
    state_u32(io, AHCI_FIELD(sact), &p->sact);
    state_u32(io, AHCI_FIELD(ci), &p->ci);
    state_u32(io, AHCI_FIELD(halted), &p->halted);
#undef AHCI_FIELD
    if (!state_loading(io) || !state_ok(io))
        return;
    int st = !!(p->cmd & AHCI_PxCMD_ST);
    state_check(io, !(p->clb & 0x3ff) && !(p->fb & 0xff) && !(p->is & ~AHCI_PxIS_MASK) &&
                        !(p->ie & ~AHCI_PxIS_MASK) && !(p->sctl & ~0xfffu),
                "AHCI port %d: register value out of range", n);
    /* CR and FR mirror ST and FRE: the engines start and stop at once. */
    state_check(io, !(p->cmd & ~AHCI_PxCMD_SAVED) && !!(p->cmd & AHCI_PxCMD_CR) == st &&
                        !!(p->cmd & AHCI_PxCMD_FR) == !!(p->cmd & AHCI_PxCMD_FRE),
                "AHCI port %d: PxCMD %#x inconsistent", n, p->cmd);
    /* Commands run inside the CI write, so a slot can only still be issued
     * on a halted port; a pending one would run at the next register access.
     * CI and SACT are cleared with ST, and only a running port halts. */
    state_check(io, p->halted <= 1 && (!p->halted || st) && (!p->ci || p->halted) && (!p->sact || st),
                "AHCI port %d: halted %u with CI %#x, SACT %#x and ST %d inconsistent", n, p->halted, p->ci, p->sact,
                st);
    /* The link follows the attached disk (ahci_port_link). */
    state_check(io, !p->ssts == !s->disk[n], "AHCI port %d: the checkpoint has %s disk there, this machine %s", n,
                p->ssts ? "a" : "no", s->disk[n] ? "has one" : "has none");
    state_check(io, s->disk[n] ? p->sig == AHCI_SIG_ATA && p->ssts == AHCI_SSTS_PRESENT
                               : p->sig == AHCI_SIG_NONE && p->ssts == 0,
                "AHCI port %d: link registers SSTS %#x / SIG %#x inconsistent", n, p->ssts, p->sig);
}

void ahci_state(AHCIState *s, StateIO *io)
{
    /* Loaded into a copy, so a refused checkpoint leaves the device as it was. */
    AHCIState t = *s;
    state_u32(io, "ghc", &t.ghc);
    state_u32(io, "is", &t.is);
    state_check(io, (t.ghc & ~AHCI_GHC_IE) == AHCI_GHC_AE && !(t.is & ~((1u << AHCI_NUM_PORTS) - 1)),
                "AHCI: GHC %#x / IS %#x out of range", t.ghc, t.is);
    for (int i = 0; i < AHCI_NUM_PORTS; i++)
        ahci_port_state(&t, &t.port[i], i, io);
    if (state_loading(io) && state_ok(io))
        *s = t;         /* the wiring in t is s's own */
}
