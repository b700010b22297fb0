/*
 * t_export.c -- the pure parts of blocklist exports: file names, CSV
 * quoting and formula defusing, text lines, Accept-Encoding, SipHash
 * vectors, and the set of distinct values (growth, the cap, 1,000,000
 * values, allocation failures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/alloc.h"
#include "ctihub/export.h"
#include "ctihub/observable.h"

static void
t_names(void **state)
{
	int type, fmt;

	(void)state;
	assert_int_equal(export_parse_name("ipv4.txt", &type, &fmt), 0);
	assert_int_equal(type, OBS_IPV4);
	assert_int_equal(fmt, EXPORT_TXT);
	assert_int_equal(export_parse_name("sha256.csv", &type, &fmt), 0);
	assert_int_equal(type, OBS_SHA256);
	assert_int_equal(fmt, EXPORT_CSV);
	assert_int_equal(export_parse_name("x509-sha256.txt", &type, &fmt), 0);
	assert_int_equal(type, OBS_X509_SHA256);
	assert_int_equal(export_parse_name("all.csv", &type, &fmt), 0);
	assert_int_equal(type, OBS_NONE);
	assert_int_equal(fmt, EXPORT_CSV);
	assert_int_equal(export_parse_name("ipv4.json", &type, &fmt), -1);
	assert_int_equal(export_parse_name("ipv4", &type, &fmt), -1);
	assert_int_equal(export_parse_name(".txt", &type, &fmt), -1);
	assert_int_equal(export_parse_name("none.txt", &type, &fmt), -1);
	assert_int_equal(export_parse_name("ipv4.txt.csv", &type, &fmt), -1);
	assert_int_equal(
	    export_parse_name(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.txt", &type, &fmt),
	    -1);
}

static void
field(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	export_csv_field(&b, in, strlen(in));
	assert_string_equal(buf_cstr(&b), want);
	buf_clear(&b);
}

static void
t_csv_field(void **state)
{
	(void)state;
	field("1.2.3.4", "1.2.3.4");
	field("", "");
	field("http://a.example/x,y", "\"http://a.example/x,y\"");
	field("http://a.example/\"q\"", "\"http://a.example/\"\"q\"\"\"");
	field("a\r\nb", "\"a\r\nb\"");
	/* formula injection: quoted, with a leading apostrophe */
	field("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"");
	field("+1", "\"'+1\"");
	field("-2+3", "\"'-2+3\"");
	field("@SUM(A1)", "\"'@SUM(A1)\"");
	field("\tx", "\"'\tx\"");
	field("\rx", "\"'\rx\"");
	/* only the first byte counts */
	field("a=1", "a=1");
	field("x@example.org", "x@example.org");
}

static void
t_csv_line(void **state)
{
	struct buf b = BUF_INIT;
	struct export_row r;

	(void)state;
	export_csv_header(&b);
	assert_string_equal(
	    buf_cstr(&b), "value,type,tlp,confidence,first_seen,producer\r\n");
	buf_reset(&b);
	r.value = "http://evil.example/a,b";
	r.valuelen = strlen(r.value);
	r.type = "url";
	r.tlp = "AMBER";
	r.confidence = 85;
	r.first_seen = 1700000000123456LL;
	r.producer = "cert-x";
	r.producerlen = 6;
	export_csv_line(&b, &r);
	assert_string_equal(buf_cstr(&b),
	    "\"http://evil.example/a,b\",url,AMBER,85,"
	    "2023-11-14T22:13:20.123456Z,cert-x\r\n");
	buf_reset(&b);
	r.value = "-evil.example";
	r.valuelen = strlen(r.value);
	r.confidence = -1;
	r.producer = "=cmd|x";
	r.producerlen = 6;
	export_csv_line(&b, &r);
	assert_string_equal(buf_cstr(&b),
	    "\"'-evil.example\",url,AMBER,,2023-11-14T22:13:20.123456Z,"
	    "\"'=cmd|x\"\r\n");
	buf_clear(&b);
}

static void
t_txt_line(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(export_txt_line(&b, "10.0.0.0/8", 10), 0);
	assert_int_equal(export_txt_line(&b, "a,b", 3), 0);
	assert_int_equal(export_txt_line(&b, "", 0), -1);
	assert_int_equal(export_txt_line(&b, "a\nb", 3), -1);
	assert_int_equal(export_txt_line(&b, "a\rb", 3), -1);
	assert_int_equal(export_txt_line(&b, "a\x7f", 2), -1);
	assert_string_equal(buf_cstr(&b), "10.0.0.0/8\na,b\n");
	buf_clear(&b);
}

static void
t_gzip(void **state)
{
	(void)state;
	assert_false(export_accepts_gzip(NULL));
	assert_false(export_accepts_gzip(""));
	assert_true(export_accepts_gzip("gzip"));
	assert_true(export_accepts_gzip("deflate, gzip"));
	assert_true(export_accepts_gzip("GZIP;q=0.5"));
	assert_true(export_accepts_gzip("x-gzip"));
	assert_true(export_accepts_gzip("*"));
	assert_true(export_accepts_gzip("br;q=1.0, gzip; q=0.001"));
	assert_false(export_accepts_gzip("gzip;q=0"));
	assert_false(export_accepts_gzip("gzip;q=0.000"));
	assert_false(export_accepts_gzip("*, gzip;q=0"));
	assert_false(export_accepts_gzip("identity"));
	assert_false(export_accepts_gzip("gzipx"));
	assert_false(export_accepts_gzip("br, deflate"));
}

static void
t_siphash(void **state)
{
	unsigned char m[15];
	uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(m); i++)
		m[i] = (unsigned char)i;
	/* the reference vectors (the SipHash paper, appendix A) */
	assert_true(export_siphash(k0, k1, m, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(export_siphash(k0, k1, m, 15) == 0xa129ca6149be45e5ULL);
	assert_true(export_siphash(k0, k1, m, 8) == 0x93f5f5799a932462ULL);
}

static const unsigned char key[16] = "0123456789abcdef";

static void
t_set(void **state)
{
	struct export_set s;
	char v[32];
	int i, n;

	(void)state;
	export_set_init(&s, 5000, key);
	assert_int_equal(export_set_add(&s, "a", 1), 1);
	assert_int_equal(export_set_add(&s, "a", 1), 0);
	assert_int_equal(export_set_add(&s, "b", 1), 1);
	assert_int_equal(export_set_add(&s, "", 0), 1);
	assert_int_equal(export_set_add(&s, "", 0), 0);
	export_set_clear(&s);
	assert_int_equal(export_set_add(&s, "a", 1), 1); /* reusable */
	export_set_clear(&s);
	/* growth keeps what was there; the cap refuses new values only */
	export_set_init(&s, 3000, key);
	for (i = 0; i < 3000; i++) {
		n = snprintf(v, sizeof(v), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(export_set_add(&s, v, (size_t)n), 1);
	}
	for (i = 0; i < 3000; i++) {
		n = snprintf(v, sizeof(v), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(export_set_add(&s, v, (size_t)n), 0);
	}
	assert_int_equal(export_set_add(&s, "new", 3), -1);
	assert_int_equal(export_set_add(&s, "10.0.0.0", 8), 0);
	assert_true(s.cap <= 8192);
	export_set_clear(&s);
}

/* 1,000,000 distinct values: all new, then all seen; 16 MiB of table. */
static void
t_set_million(void **state)
{
	struct export_set s;
	char v[32];
	int i, n, fresh = 0, seen = 0;

	(void)state;
	export_set_init(&s, 2000000, key);
	for (i = 0; i < 1000000; i++) {
		n = snprintf(v, sizeof(v), "%d.%d.%d.%d", 1 + i / 65536,
		    i / 256 % 256, i % 256, i % 7);
		fresh += export_set_add(&s, v, (size_t)n) == 1;
	}
	for (i = 0; i < 1000000; i++) {
		n = snprintf(v, sizeof(v), "%d.%d.%d.%d", 1 + i / 65536,
		    i / 256 % 256, i % 256, i % 7);
		seen += export_set_add(&s, v, (size_t)n) == 0;
	}
	assert_int_equal(fresh, 1000000);
	assert_int_equal(seen, 1000000);
	assert_true(s.cap * sizeof(uint64_t) <= 16u << 20);
	export_set_clear(&s);
}

/* An allocation that fails leaves the set as it was. */
static void
t_set_oom(void **state)
{
	struct export_set s;
	char v[16];
	int i, n;

	(void)state;
	export_set_init(&s, 100000, key);
	hub_alloc_fail_after(0);
	assert_int_equal(export_set_add(&s, "a", 1), -1);
	hub_alloc_fail_after(-1);
	assert_int_equal(export_set_add(&s, "a", 1), 1);
	for (i = 0; i < 511; i++) {
		n = snprintf(v, sizeof(v), "v%d", i);
		assert_int_equal(export_set_add(&s, v, (size_t)n), 1);
	}
	hub_alloc_fail_after(0); /* the growth to 2048 fails */
	assert_int_equal(export_set_add(&s, "x", 1), -1);
	hub_alloc_fail_after(-1);
	assert_int_equal(export_set_add(&s, "a", 1), 0);
	assert_int_equal(export_set_add(&s, "v510", 4), 0);
	assert_int_equal(export_set_add(&s, "x", 1), 1);
	export_set_clear(&s);
}

/* Lines leave in order, each value once, duplicates within and beyond
 * the lag alike, and pend stays small. */
static void
t_pipe(void **state)
{
	struct export_set s;
	struct export_pipe p;
	struct buf out = BUF_INIT, want = BUF_INIT;
	char v[32];
	size_t start, maxpend = 0;
	int i, k, n;

	(void)state;
	export_set_init(&s, 100000, key);
	export_pipe_init(&p, &s);
	for (i = 0; i < 3000; i++) {
		/* values 0..999, each seen three times: at i, i+1 (within
		 * the lag) and i+1000 (beyond it) */
		k = i < 2000 ? i / 2 : i - 2000;
		n = snprintf(v, sizeof(v), "value-%d", k);
		start = export_pipe_start(&p);
		assert_int_equal(export_txt_line(&p.pend, v, (size_t)n), 0);
		export_pipe_push(&p, start, v, (size_t)n, &out);
		if (export_pipe_pending(&p) > maxpend)
			maxpend = export_pipe_pending(&p);
		if (i % 700 == 0)
			export_pipe_flush(&p, &out);
	}
	export_pipe_flush(&p, &out);
	for (i = 0; i < 1000; i++)
		buf_addf(&want, "value-%d\n", i);
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.data, want.data, want.len);
	assert_true(p.written == 1000);
	assert_true(p.overflow == 0);
	assert_true(maxpend <= EXPORT_LAG * 16);
	assert_true(p.pend.cap <= 16384);
	export_pipe_clear(&p);
	export_set_clear(&s);
	buf_clear(&out);
	buf_clear(&want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_names),
	    cmocka_unit_test(t_csv_field),
	    cmocka_unit_test(t_csv_line),
	    cmocka_unit_test(t_txt_line),
	    cmocka_unit_test(t_gzip),
	    cmocka_unit_test(t_siphash),
	    cmocka_unit_test(t_set),
	    cmocka_unit_test(t_set_million),
	    cmocka_unit_test(t_set_oom),
	    cmocka_unit_test(t_pipe),
	};

	return cmocka_run_group_tests_name("export", tests, NULL, NULL);
}
