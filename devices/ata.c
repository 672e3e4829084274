/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IDENTIFY DEVICE encoding shared by the AHCI and IDE hosts (ata.h). */
#include "devices/ata.h"

#include <string.h>

void ata_put_string(uint16_t *w, int nwords, const char *str)
{
    size_t len = strlen(str);
    for (int i = 0; i < nwords; i++) {
        uint8_t hi = (size_t)(2 * i) < len ? (uint8_t)str[2 * i] : ' ';
        uint8_t lo = (size_t)(2 * i + 1) < len ? (uint8_t)str[2 * i + 1] : ' ';
        w[i] = (uint16_t)(hi << 8 | lo);
    }
}

void ata_identify_bytes(uint16_t w[256], uint8_t out[512])
{
    w[255] = 0x00a5;
    for (int i = 0; i < 256; i++) {
        out[2 * i] = (uint8_t)w[i];
        out[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
    uint8_t sum = 0;
    for (int i = 0; i < 511; i++)
        sum += out[i];
    out[511] = (uint8_t)-sum;
}
