/* JSON Lines metrics log: every line is parsed back with cJSON (an independent
 * JSON parser) and compared field by field. */
#include "io_test_util.h"

#include <cjson/cJSON.h>

static char dir[64];

static int setup(void **state) {
  (void)state;
  io_mkdtemp(dir);
  return 0;
}
static int teardown(void **state) {
  (void)state;
  io_rm_rf(dir);
  return 0;
}

static void path_in(char *buf, const char *name) { snprintf(buf, 256, "%s/%s", dir, name); }

/* Splits the file into lines; returns how many (each NUL-terminated, in lines). */
static int read_lines(const char *p, char **buf, char *lines[], int max) {
  size_t len;
  *buf = (char *)io_read_bytes(p, &len);
  (*buf)[len] = 0;
  if (len) assert_int_equal((*buf)[len - 1], '\n');
  int n = 0;
  for (char *s = *buf; *s && n < max;) {
    char *nl = strchr(s, '\n');
    assert_non_null(nl);
    *nl = 0;
    lines[n++] = s;
    s = nl + 1;
  }
  return n;
}

static void test_write_and_parse(void **state) {
  (void)state;
  char p[256];
  path_in(p, "metrics.jsonl");
  nd_jsonl *w;
  nd_assert_ok(nd_jsonl_open(p, &w));
  const double vals[] = {0.1, -1.0 / 3.0, 1e-310, 6.02214076e23, 0.0, -0.0, 123456789.125, 5e-324};
  for (int step = 0; step < 8; step++) {
    nd_jsonl_field f[] = {ND_JINT("step", step), ND_JNUM("loss", vals[step]), ND_JBOOL("ok", step % 2),
                          ND_JSTR("phase", step < 4 ? "train" : "eval")};
    nd_assert_ok(nd_jsonl_write(w, 4, f));
  }
  /* Non-finite numbers, NULL strings, escapes, UTF-8, extreme integers. */
  nd_jsonl_field g[] = {ND_JNUM("nan", NAN),
                        ND_JNUM("inf", INFINITY),
                        ND_JNUM("ninf", -INFINITY),
                        ND_JSTR("none", NULL),
                        ND_JSTR("esc", "quote \" backslash \\ tab \t newline \n bell \a"),
                        ND_JSTR("utf8", "\xce\xb1\xce\xb2 \xe2\x86\x92 \xf0\x9f\x98\x80"),
                        ND_JINT("min", INT64_MIN),
                        ND_JINT("max", INT64_MAX),
                        ND_JSTR("key \"quoted\"", "v"),
                        ND_JNUMS("arr", ((const double[]){0.5, NAN, -2}), 3),
                        ND_JNUMS("empty", NULL, 0)};
  nd_assert_ok(nd_jsonl_write(w, 11, g));
  nd_assert_ok(nd_jsonl_write(w, 0, NULL)); /* {} */
  /* Each line is flushed when written: readable before close. */
  char *buf, *lines[16];
  assert_int_equal(read_lines(p, &buf, lines, 16), 10);
  free(buf);
  nd_assert_ok(nd_jsonl_close(w));

  int n = read_lines(p, &buf, lines, 16);
  assert_int_equal(n, 10);
  for (int step = 0; step < 8; step++) {
    cJSON *j = cJSON_Parse(lines[step]);
    if (!j) fail_msg("line %d is not JSON: %s", step, lines[step]);
    assert_int_equal(cJSON_GetArraySize(j), 4);
    assert_string_equal(j->child->string, "step"); /* field order kept */
    assert_true(cJSON_GetObjectItemCaseSensitive(j, "step")->valuedouble == step);
    double got = cJSON_GetObjectItemCaseSensitive(j, "loss")->valuedouble;
    if (got != vals[step] || signbit(got) != signbit(vals[step]))
      fail_msg("line %d: loss %.17g read back as %.17g (%s)", step, vals[step], got, lines[step]);
    assert_true(step % 2 ? cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))
                         : cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "ok")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "phase")->valuestring, step < 4 ? "train" : "eval");
    cJSON_Delete(j);
  }
  cJSON *j = cJSON_Parse(lines[8]);
  if (!j) fail_msg("line 8 is not JSON: %s", lines[8]);
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "nan")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "inf")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "ninf")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "none")));
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "esc")->valuestring,
                      "quote \" backslash \\ tab \t newline \n bell \a");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "utf8")->valuestring,
                      "\xce\xb1\xce\xb2 \xe2\x86\x92 \xf0\x9f\x98\x80");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "key \"quoted\"")->valuestring, "v");
  cJSON_Delete(j);
  /* cJSON holds numbers as doubles: check the 64-bit integers as text. */
  assert_non_null(strstr(lines[8], "\"min\": -9223372036854775808"));
  assert_non_null(strstr(lines[8], "\"max\": 9223372036854775807"));
  assert_non_null(strstr(lines[8], "\"arr\": [0.5, null, -2], \"empty\": []}"));
  cJSON *line = cJSON_Parse(lines[8]), *arr = cJSON_GetObjectItemCaseSensitive(line, "arr");
  assert_true(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 3);
  cJSON_Delete(line);
  assert_string_equal(lines[9], "{}");
  free(buf);
}

static void test_append_and_errors(void **state) {
  (void)state;
  char p[256];
  path_in(p, "run.jsonl");
  nd_jsonl *w;
  nd_assert_ok(nd_jsonl_open_append(p, &w)); /* creates */
  nd_assert_ok(nd_jsonl_write(w, 1, (nd_jsonl_field[]){ND_JINT("step", 1)}));
  nd_assert_ok(nd_jsonl_close(w));
  nd_assert_ok(nd_jsonl_open_append(p, &w)); /* resumes */
  nd_assert_ok(nd_jsonl_write(w, 1, (nd_jsonl_field[]){ND_JINT("step", 2)}));
  /* A field without a name is refused, naming the file; the line is not written. */
  io_assert_error(nd_jsonl_write(w, 2, (nd_jsonl_field[]){ND_JINT("a", 1), {.name = NULL}}), ND_ERR_INVALID_ARG, p,
                  "field 1 has no name");
  io_assert_error(nd_jsonl_write(w, 1, (nd_jsonl_field[]){{.name = "k", .kind = (nd_jsonl_kind)9}}),
                  ND_ERR_INVALID_ARG, p, "unknown kind 9");
  nd_assert_ok(nd_jsonl_close(w));
  char *buf, *lines[8];
  assert_int_equal(read_lines(p, &buf, lines, 8), 2);
  assert_string_equal(lines[0], "{\"step\": 1}");
  assert_string_equal(lines[1], "{\"step\": 2}");
  free(buf);
  /* Opening for writing truncates. */
  nd_assert_ok(nd_jsonl_open(p, &w));
  nd_assert_ok(nd_jsonl_close(w));
  size_t len;
  free(io_read_bytes(p, &len));
  assert_int_equal(len, 0);
  /* A missing directory. */
  char q[300];
  snprintf(q, sizeof q, "%s/no/such/dir/m.jsonl", dir);
  w = (nd_jsonl *)1;
  io_assert_error(nd_jsonl_open(q, &w), ND_ERR_NOT_FOUND, q, "cannot open for writing");
  assert_null(w);
  io_assert_error(nd_jsonl_open("", &w), ND_ERR_INVALID_ARG, "empty path", NULL);
  nd_assert_ok(nd_jsonl_close(NULL));
  /* A FIFO (no reader) and a directory are refused at once, never blocking;
   * appending to a FIFO as well. */
  snprintf(q, sizeof q, "%s/fifo.jsonl", dir);
  assert_int_equal(mkfifo(q, 0600), 0);
  io_assert_error(nd_jsonl_open(q, &w), ND_ERR_INVALID_ARG, q, NULL);
  io_assert_error(nd_jsonl_open_append(q, &w), ND_ERR_INVALID_ARG, q, NULL);
  io_assert_error(nd_jsonl_open(dir, &w), ND_ERR_INVALID_ARG, dir, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_and_parse),
      cmocka_unit_test(test_append_and_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
