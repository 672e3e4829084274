/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the two ATA hosts (ahci.c, ide.c) share: the IDENTIFY DEVICE data
 * block's encoding. Each device fills its own words (SATA and PATA differ). */
#ifndef LBVM_ATA_H
#define LBVM_ATA_H

#include <stdint.h>

/* An ATA string: two characters per word, the first in the high byte,
 * padded with spaces (ATA8-ACS 3.3.10). */
void ata_put_string(uint16_t *w, int nwords, const char *str);

/* The 256 IDENTIFY words as the 512 bytes the host reads, little-endian,
 * with the integrity word (255): signature 0xa5 and the checksum that makes
 * all 512 bytes sum to 0 (ATA8-ACS 7.16.7.91). */
void ata_identify_bytes(uint16_t w[256], uint8_t out[512]);

#endif
