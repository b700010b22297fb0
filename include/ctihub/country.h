/*
 * country.h -- ISO 3166-1 country codes: which alpha-2 codes exist, and the
 * alpha-3 spelling some marking schemes (ISA ACS) use.  The table is the
 * ISO 3166-1 list as Debian's iso-codes package ships it (249 entries).
 */
#ifndef CTIHUB_COUNTRY_H
#define CTIHUB_COUNTRY_H

/* 1 if `cc` is an assigned ISO 3166-1 alpha-2 code (upper case). */
int country_valid(const char *cc);
/* The alpha-2 code of an alpha-3 code (any case), or NULL. */
const char *country_from_alpha3(const char *a3);

#endif
