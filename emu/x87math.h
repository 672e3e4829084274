/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The C library's maths that Unicorn's x87 helpers call, made the same on
 * every host: see x87math.c. */
#ifndef LBVM_X87MATH_H
#define LBVM_X87MATH_H
#include <stddef.h>

double x87math_sin(double x);
double x87math_cos(double x);
double x87math_tan(double x);
void x87math_sincos(double x, double *s, double *c);
double x87math_atan2(double y, double x);
double x87math_log(double x);
double x87math_exp2(double x);

/* 0 if sin, cos, tan, sincos, atan2, log and pow resolve to lbvm's for the
 * whole process (and so for Unicorn), else -1 with the reason in err. */
int x87math_check(char *err, size_t errlen);
#endif
