/*
 * The C ABI's own test: every check goes through include/pcdr.h and libpcdr, built
 * with -Wall -Wextra -Werror -fsanitize=address,undefined by scripts/test-ffi.
 *
 * Usage: pcdr_test TOPOLOGY WORKDIR [WORLD SLOW_WORLD SWITCH_WORLD]
 *   TOPOLOGY      examples/topology.toml (its hosts do not resolve)
 *   WORKDIR       an empty folder for journals
 *   WORLD         the topology.toml of a fresh world served by `pcdr sim serve`
 *   SLOW_WORLD    the same of another fresh world, served with --statement-latency-ms 200
 *   SWITCH_WORLD  the same of a third fresh world
 * With the three worlds (and PCDR_BIN naming the pcdr executable, for `pcdr sim …`) it
 * also fails over and back on the first, cancels a run on the second, and switches
 * over and back on the third.
 *
 * Each test is a function of the fixture in the tables at the end; the program prints
 * one line per failed check and closes with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "pcdr.h"

#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

struct fixture {
  const char *topology;
  const char *workdir;
  const char *world;      /* a served world's topology.toml, or NULL */
  const char *slow_world; /* the same, served with a statement latency */
  const char *switch_world; /* the same, for a switchover and back */
};

static int passed, failed;

#define CHECK(cond)                                                          \
  check((cond), #cond, __FILE__, __LINE__)

static void check(int ok, const char *what, const char *file, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    printf("FAILED %s:%d: %s\n", file, line, what);
  }
}

/* The last error's text in a static buffer (truncated past 4 KiB). */
static const char *last_error(void) {
  static char buf[4096];
  size_t needed = 0;
  if (pcdr_error_message(buf, sizeof buf, &needed) != PCDR_RESULT_OK) {
    snprintf(buf, sizeof buf, "(%zu bytes of error text)", needed);
  }
  return buf;
}

static int contains(const char *text, const char *part) {
  return text != NULL && strstr(text, part) != NULL;
}

static int is_step_failure(pcdr_result r) { return r >= 300 && r < 400; }

/* Whether a JSON document starts with its schema version, 1. */
/* Whether a JSON document starts with its schema version `version`. */
static int is_versioned(const char *json, int version) {
  char prefix[32];
  int length = snprintf(prefix, sizeof prefix, "{\"schema_version\":%d,", version);
  return json != NULL && length > 0 && strncmp(json, prefix, (size_t)length) == 0;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char *text = calloc(1, 1 << 16);
  if (text != NULL) {
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
  }
  fclose(f);
  return text;
}

static pcdr_runbook *open_runbook(const struct fixture *fx, const char *journal_name,
                                  int dry_run) {
  char journal[1024];
  snprintf(journal, sizeof journal, "%s/%s", fx->workdir, journal_name);
  pcdr_options opts;
  CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
  opts.journal = journal;
  opts.dry_run = (uint8_t)dry_run;
  pcdr_runbook *rb = NULL;
  pcdr_result r = pcdr_runbook_new_from_file(fx->topology, &opts, &rb);
  CHECK(r == PCDR_RESULT_OK);
  if (r != PCDR_RESULT_OK) printf("  %s\n", last_error());
  return rb;
}

static void test_version(const struct fixture *fx) {
  (void)fx;
  const char *v = pcdr_version();
  CHECK(v != NULL && v[0] >= '0' && v[0] <= '9');
}

static void test_null_pointers(const struct fixture *fx) {
  pcdr_runbook *rb = (pcdr_runbook *)&rb; /* a sentinel that must stay untouched */
  pcdr_runbook *const sentinel = rb;
  char *json = (char *)&json;
  char *const json_sentinel = json;
  size_t needed = 0;

  CHECK(pcdr_runbook_new_from_file(NULL, NULL, &rb) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(contains(last_error(), "path is NULL"));
  CHECK(pcdr_runbook_new_from_file(fx->topology, NULL, NULL) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_new_from_toml(NULL, NULL, NULL, &rb) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(rb == sentinel);
  CHECK(pcdr_runbook_plan(NULL, "failover", &json) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_run(NULL, "failover", &json) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_run_step(NULL, "failover", "check_sites", &json) ==
        PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_resume(NULL, &json) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_report(NULL, &json) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_cancel(NULL) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_set_progress_callback(NULL, NULL, NULL) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(json == json_sentinel);
  CHECK(pcdr_error_message(NULL, 0, NULL) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_error_message(NULL, 16, &needed) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_error_step(NULL, 0, NULL) == PCDR_RESULT_NULL_PARAMETER);

  pcdr_runbook *real = open_runbook(fx, "null.journal", 1);
  CHECK(pcdr_runbook_plan(real, NULL, &json) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_plan(real, "failover", NULL) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_run_step(real, "failover", NULL, &json) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_runbook_resume(real, NULL) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(json == json_sentinel);
  pcdr_runbook_free(real);
}

static void test_invalid_utf8(const struct fixture *fx) {
  pcdr_runbook *rb = NULL;
  char *json = NULL;
  CHECK(pcdr_runbook_new_from_file("/tmp/\xff.toml", NULL, &rb) == PCDR_RESULT_INVALID_UTF8);
  CHECK(pcdr_runbook_new_from_toml("[pool]\nfqdn = \"\xc3\x28\"\n", NULL, NULL, &rb) ==
        PCDR_RESULT_INVALID_UTF8);
  CHECK(contains(last_error(), "toml is not valid UTF-8"));
  pcdr_options opts;
  CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
  opts.journal = "/tmp/\xfe";
  CHECK(pcdr_runbook_new_from_file(fx->topology, &opts, &rb) == PCDR_RESULT_INVALID_UTF8);
  CHECK(rb == NULL);

  pcdr_runbook *real = open_runbook(fx, "utf8.journal", 1);
  CHECK(pcdr_runbook_plan(real, "fail\xffover", &json) == PCDR_RESULT_INVALID_UTF8);
  CHECK(pcdr_runbook_run_step(real, "failover", "check\x80sites", &json) ==
        PCDR_RESULT_INVALID_UTF8);
  CHECK(pcdr_runbook_plan(real, "failsideways", &json) == PCDR_RESULT_UNKNOWN_PROCEDURE);
  CHECK(json == NULL);
  pcdr_runbook_free(real);
}

static void test_options_init(const struct fixture *fx) {
  (void)fx;
  pcdr_options opts;
  memset(&opts, 0xab, sizeof opts);
  CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
  CHECK(opts.struct_size == sizeof(pcdr_options));
  CHECK(opts.journal == NULL && opts.failover_journal == NULL && opts.switch_to == NULL);
  CHECK(opts.dry_run == 0 && opts.accept_data_loss == 0);
  CHECK(opts.allow_primary_reachable == 0 && opts.sequential_restore == 0);
  CHECK(opts.resume_stale == 0);
  CHECK(pcdr_options_init(NULL) == PCDR_RESULT_NULL_PARAMETER);
}

/* The failover journal a failback follows reaches pcdr: one that does not exist is
 * refused, naming it, before the failback's plan observes anything; a failover's plan
 * does not read it. */
static void test_failover_journal(const struct fixture *fx) {
  pcdr_options opts;
  CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
  opts.dry_run = 1;
  opts.failover_journal = "/nonexistent/pcdr-failover.journal";
  pcdr_runbook *rb = NULL;
  CHECK(pcdr_runbook_new_from_file(fx->topology, &opts, &rb) == PCDR_RESULT_OK);
  char *json = NULL;
  CHECK(pcdr_runbook_plan(rb, "failback", &json) == PCDR_RESULT_JOURNAL);
  CHECK(json == NULL);
  CHECK(contains(last_error(), "/nonexistent/pcdr-failover.journal"));
  CHECK(contains(last_error(), "failover journal but does not exist"));
  CHECK(pcdr_runbook_plan(rb, "failover", &json) == PCDR_RESULT_OK);
  pcdr_string_free(json);
  pcdr_runbook_free(rb);
}

/* The site a switchover moves to reaches pcdr: "primary" and "backup" are taken (and
 * the switchover's plan reads them), any other text is refused by both constructors,
 * naming the field, and nothing is created. */
static void test_switch_to(const struct fixture *fx) {
  static const char *const sites[] = {"primary", "backup"};
  for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
    pcdr_options opts;
    CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
    opts.dry_run = 1;
    opts.switch_to = sites[i];
    pcdr_runbook *rb = NULL;
    pcdr_result r = pcdr_runbook_new_from_file(fx->topology, &opts, &rb);
    CHECK(r == PCDR_RESULT_OK);
    if (r != PCDR_RESULT_OK) printf("  switch_to %s: %s\n", sites[i], last_error());
    char *plan = NULL;
    CHECK(pcdr_runbook_plan(rb, "switchover", &plan) == PCDR_RESULT_OK);
    CHECK(contains(plan, "\"check_switchover\""));
    pcdr_string_free(plan);
    pcdr_runbook_free(rb);
  }
  char *toml = read_file(fx->topology);
  CHECK(toml != NULL);
  static const char *const refused[] = {"sideways", "Backup", ""};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    pcdr_options opts;
    CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
    opts.switch_to = refused[i];
    pcdr_runbook *rb = NULL;
    CHECK(pcdr_runbook_new_from_file(fx->topology, &opts, &rb) ==
          PCDR_RESULT_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "options.switch_to"));
    CHECK(pcdr_runbook_new_from_toml(toml, NULL, &opts, &rb) == PCDR_RESULT_INVALID_ARGUMENT);
    CHECK(rb == NULL);
  }
  pcdr_options opts;
  CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
  opts.switch_to = "back\xffup";
  pcdr_runbook *rb = NULL;
  CHECK(pcdr_runbook_new_from_file(fx->topology, &opts, &rb) == PCDR_RESULT_INVALID_UTF8);
  CHECK(contains(last_error(), "options.switch_to"));
  CHECK(rb == NULL);
  free(toml);
}

/* Options not filled by pcdr_options_init (zeroed, or of another header's size) are
 * refused by both constructors, and nothing is created. */
static void test_options_of_another_size(const struct fixture *fx) {
  char *toml = read_file(fx->topology);
  CHECK(toml != NULL);
  pcdr_options zeroed = {0};
  pcdr_options older;
  CHECK(pcdr_options_init(&older) == PCDR_RESULT_OK);
  older.struct_size = (uint32_t)sizeof(pcdr_options) - 8;
  const pcdr_options *refused[] = {&zeroed, &older};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    pcdr_runbook *rb = NULL;
    CHECK(pcdr_runbook_new_from_file(fx->topology, refused[i], &rb) ==
          PCDR_RESULT_UNKNOWN_OPTIONS_SIZE);
    CHECK(contains(last_error(), "pcdr_options_init"));
    CHECK(pcdr_runbook_new_from_toml(toml, NULL, refused[i], &rb) ==
          PCDR_RESULT_UNKNOWN_OPTIONS_SIZE);
    CHECK(rb == NULL);
  }
  free(toml);
}

static void test_bad_topology(const struct fixture *fx) {
  char *text = read_file(fx->topology);
  CHECK(text != NULL);
  if (text == NULL) return;
  /* The backup instance's host (the name appears in a share's path first). */
  char *host = strstr(text, "host = \"sql-dal.contoso.com\"");
  CHECK(host != NULL);
  if (host != NULL) host[11] = ' '; /* host = "sql dal.contoso.com" */
  pcdr_runbook *rb = NULL;
  CHECK(pcdr_runbook_new_from_toml(text, NULL, NULL, &rb) == PCDR_RESULT_TOPOLOGY);
  CHECK(contains(last_error(), "sites.backup.sql.host"));
  CHECK(rb == NULL);
  CHECK(pcdr_runbook_new_from_file("/nonexistent/topology.toml", NULL, &rb) ==
        PCDR_RESULT_TOPOLOGY);
  CHECK(contains(last_error(), "/nonexistent/topology.toml"));
  free(text);
}

static void test_unknown_step(const struct fixture *fx) {
  pcdr_runbook *rb = open_runbook(fx, "step.journal", 0);
  char *json = NULL;
  CHECK(pcdr_runbook_run_step(rb, "failover", "no_such_step", &json) ==
        PCDR_RESULT_UNKNOWN_STEP);
  CHECK(contains(last_error(), "use one of: check_sites"));
  CHECK(json == NULL);
  pcdr_runbook_free(rb);
}

static void test_second_free(const struct fixture *fx) {
  pcdr_runbook *rb = open_runbook(fx, "free.journal", 1);
  char *json = NULL;
  CHECK(pcdr_runbook_plan(rb, "failback", &json) == PCDR_RESULT_OK);
  pcdr_string_free(json);
  pcdr_string_free(json);
  pcdr_string_free(NULL);
  pcdr_runbook_free(rb);
  pcdr_runbook_free(rb);
  pcdr_runbook_free(NULL);
  json = NULL;
  CHECK(pcdr_runbook_plan(rb, "failback", &json) == PCDR_RESULT_INVALID_HANDLE);
  CHECK(pcdr_runbook_cancel(rb) == PCDR_RESULT_INVALID_HANDLE);
  CHECK(json == NULL);
}

static void test_small_error_buffer(const struct fixture *fx) {
  (void)fx;
  pcdr_runbook *rb = NULL;
  CHECK(pcdr_runbook_new_from_file(NULL, NULL, &rb) == PCDR_RESULT_NULL_PARAMETER);
  char small[4] = {'x', 'x', 'x', 'x'};
  size_t needed = 0;
  CHECK(pcdr_error_message(small, sizeof small, &needed) == PCDR_RESULT_BUFFER_TOO_SMALL);
  CHECK(needed > sizeof small);
  CHECK(small[0] == 'x' && small[3] == 'x');
  /* The accessor leaves the last error alone: a sized buffer now gets the text. */
  char *buf = malloc(needed);
  size_t again = 0;
  CHECK(buf != NULL && pcdr_error_message(buf, needed, &again) == PCDR_RESULT_OK);
  CHECK(buf != NULL && again == needed && strlen(buf) + 1 == needed);
  free(buf);
  CHECK(pcdr_error_message(NULL, 0, &again) == PCDR_RESULT_BUFFER_TOO_SMALL);
  CHECK(again == needed);
}

static void test_dry_run_plan(const struct fixture *fx) {
  pcdr_runbook *rb = open_runbook(fx, "plan.journal", 1);
  char *plan = NULL;
  CHECK(pcdr_runbook_plan(rb, "failover", &plan) == PCDR_RESULT_OK);
  CHECK(is_versioned(plan, 2));
  CHECK(contains(plan, "\"steps\":[") && contains(plan, "\"check_sites\""));
  CHECK(contains(plan, "activate_backup_servers"));
  pcdr_string_free(plan);
  char *outcome = NULL;
  CHECK(pcdr_runbook_run(rb, "failover", &outcome) == PCDR_RESULT_OK);
  CHECK(contains(outcome, "{\"schema_version\":1,\"kind\":\"planned\""));
  pcdr_string_free(outcome);
  pcdr_runbook_free(rb);
}

/* Copies the string value after the next `key` (`{"id":"`) in `text` into `out`;
 * returns where the value ends, or NULL when `key` does not occur before `end` (NULL:
 * the end of `text`). */
static const char *next_value(const char *text, const char *end, const char *key, char *out,
                              size_t len) {
  const char *at = strstr(text, key);
  if (at == NULL || (end != NULL && at >= end)) return NULL;
  at += strlen(key);
  size_t n = strcspn(at, "\"");
  snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), at);
  return at + n;
}

/* Whether the plan of `procedure` shows the steps whose ids the procedures document
 * lists between `listed` and `end` (NULL: its end), in the same order. */
static int plan_shows_the_listed_steps(pcdr_runbook *rb, const char *procedure,
                                       const char *listed, const char *end) {
  char *plan = NULL;
  if (pcdr_runbook_plan(rb, procedure, &plan) != PCDR_RESULT_OK) return 0;
  const char *in_plan = plan;
  char planned[128], id[128];
  int same = 1, steps = 0;
  for (;;) {
    in_plan = next_value(in_plan, NULL, "{\"step\":\"", planned, sizeof planned);
    listed = next_value(listed, end, "{\"id\":\"", id, sizeof id);
    if (in_plan == NULL || listed == NULL) break;
    same = same && strcmp(planned, id) == 0;
    steps++;
  }
  pcdr_string_free(plan);
  return same && in_plan == NULL && listed == NULL && steps > 0;
}

/* The ids of the steps the procedures document `doc` lists for `procedure`, each
 * followed by a space, in `out` ("" when it lists no such procedure). */
static void listed_steps(const char *doc, const char *procedure, char *out, size_t len) {
  char key[128];
  snprintf(key, sizeof key, "{\"name\":\"%s\"", procedure);
  out[0] = '\0';
  const char *at = strstr(doc, key);
  if (at == NULL) return;
  const char *end = strstr(at + 1, "{\"name\":\"");
  char id[128];
  size_t used = 0;
  while ((at = next_value(at, end, "{\"id\":\"", id, sizeof id)) != NULL && used < len) {
    used += (size_t)snprintf(out + used, len - used, "%s ", id);
  }
}

/* The procedures document, sized by a first call; its steps are the ones each
 * procedure's plan shows, in the same order. */
static void test_procedures_match_the_plans(const struct fixture *fx) {
  size_t needed = 0, copied = 0;
  CHECK(pcdr_procedures(NULL, 0, &needed) == PCDR_RESULT_BUFFER_TOO_SMALL);
  char *doc = malloc(needed);
  CHECK(doc != NULL && pcdr_procedures(doc, needed, &copied) == PCDR_RESULT_OK);
  if (doc == NULL) return;
  CHECK(copied == needed && strlen(doc) + 1 == needed);
  CHECK(is_versioned(doc, 1));
  CHECK(contains(doc, "{\"name\":\"failover\",\"summary\":\""));
  CHECK(contains(doc, "{\"name\":\"failback\",\"summary\":\""));
  static const char *const expected[][2] = {
      {"prepare_failback",
       "check_prepare_failback back_up_serving_database seed_primary ship_logs_to_primary "},
      {"switchover",
       "check_switchover record_log_shipping remove_incoming_log_shipping copy_backlog "
       "restore_backlog fence_pool unmirror_serving_database back_up_tail_log copy_tail "
       "restore_tail recover_new_primary set_switched_pool_state activate_switched_servers "
       "mirror_switched_database reverse_log_shipping "},
  };
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    char steps[2048];
    listed_steps(doc, expected[i][0], steps, sizeof steps);
    int same = strcmp(steps, expected[i][1]) == 0;
    CHECK(same);
    if (!same) printf("  %s lists: %s\n", expected[i][0], steps);
  }
  static const char name_key[] = "{\"name\":\"";
  pcdr_runbook *rb = open_runbook(fx, "procedures.journal", 1);
  int procedures = 0;
  for (const char *at = strstr(doc, name_key); at != NULL; procedures++) {
    const char *next = strstr(at + 1, name_key);
    char name[64];
    next_value(at, NULL, name_key, name, sizeof name);
    int shown = plan_shows_the_listed_steps(rb, name, at, next);
    CHECK(shown);
    if (!shown) printf("  %s: %s\n", name, doc);
    at = next;
  }
  CHECK(procedures == 4);
  /* A name no procedure has is refused with a message listing the names. */
  char *plan = NULL;
  CHECK(pcdr_runbook_plan(rb, "failsideways", &plan) == PCDR_RESULT_UNKNOWN_PROCEDURE);
  CHECK(contains(last_error(), "failover") && contains(last_error(), "failback"));
  CHECK(plan == NULL);
  pcdr_runbook_free(rb);
  free(doc);
}

static void test_procedures_buffer_rules(const struct fixture *fx) {
  (void)fx;
  size_t needed = 0, again = 0;
  CHECK(pcdr_procedures(NULL, 0, &needed) == PCDR_RESULT_BUFFER_TOO_SMALL);
  char small[4] = {'x', 'x', 'x', 'x'};
  CHECK(pcdr_procedures(small, sizeof small, &again) == PCDR_RESULT_BUFFER_TOO_SMALL);
  CHECK(again == needed && small[0] == 'x' && small[3] == 'x');
  CHECK(contains(last_error(), "bytes"));
  again = 0;
  CHECK(pcdr_procedures(NULL, 16, &again) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(pcdr_procedures(small, sizeof small, NULL) == PCDR_RESULT_NULL_PARAMETER);
  CHECK(again == 0);
}

struct events {
  pthread_t caller;
  atomic_int count;
  atomic_int step_started;
  atomic_int on_other_thread;
  atomic_int unversioned;
};

static void on_event(const char *event_json, void *user_data) {
  struct events *events = user_data;
  atomic_fetch_add(&events->count, 1);
  if (!pthread_equal(pthread_self(), events->caller)) {
    atomic_fetch_add(&events->on_other_thread, 1);
  }
  if (contains(event_json, "\"event\":\"step_started\"")) {
    atomic_fetch_add(&events->step_started, 1);
  }
  if (!is_versioned(event_json, 1)) {
    atomic_fetch_add(&events->unversioned, 1);
  }
}

static void test_failing_run(const struct fixture *fx) {
  pcdr_runbook *rb = open_runbook(fx, "run.journal", 0);
  struct events events = {pthread_self(), 0, 0, 0, 0};
  CHECK(pcdr_runbook_set_progress_callback(rb, on_event, &events) == PCDR_RESULT_OK);
  char *outcome = NULL;
  pcdr_result r = pcdr_runbook_run(rb, "failover", &outcome);
  CHECK(is_step_failure(r));
  CHECK(contains(last_error(), "check_sites"));
  char step[64];
  size_t needed = 0;
  CHECK(pcdr_error_step(step, sizeof step, &needed) == PCDR_RESULT_OK);
  CHECK(strcmp(step, "check_sites") == 0);
  CHECK(outcome == NULL);
  CHECK(atomic_load(&events.step_started) >= 1);
  CHECK(atomic_load(&events.count) >= 2);
  CHECK(atomic_load(&events.on_other_thread) == 0);
  CHECK(atomic_load(&events.unversioned) == 0);

  /* Resuming observes again and stops at the same step. */
  CHECK(is_step_failure(pcdr_runbook_resume(rb, &outcome)));
  CHECK(contains(last_error(), "check_sites"));
  CHECK(outcome == NULL);

  char *report = NULL;
  CHECK(pcdr_runbook_report(rb, &report) == PCDR_RESULT_OK);
  CHECK(is_versioned(report, 1));
  CHECK(contains(report, "\"step\":\"check_sites\""));
  CHECK(contains(report, "\"completed\":false"));
  pcdr_string_free(report);
  pcdr_runbook_free(rb);
}

struct canceller {
  pcdr_runbook *rb;
  pcdr_result result;
};

static void *cancel_soon(void *arg) {
  struct canceller *c = arg;
  struct timespec pause = {0, 2 * 1000 * 1000};
  nanosleep(&pause, NULL);
  c->result = pcdr_runbook_cancel(c->rb);
  return NULL;
}

static void test_cancel_from_another_thread(const struct fixture *fx) {
  pcdr_runbook *rb = open_runbook(fx, "cancel.journal", 0);
  struct canceller c = {rb, PCDR_RESULT_OTHER};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, cancel_soon, &c) == 0);
  char *outcome = NULL;
  pcdr_result r = pcdr_runbook_run(rb, "failover", &outcome);
  pthread_join(thread, NULL);
  CHECK(c.result == PCDR_RESULT_OK);
  /* Cancelled before a step, or the run ended first (at check_sites). */
  CHECK(r == PCDR_RESULT_CANCELLED || is_step_failure(r));
  pcdr_string_free(outcome);
  pcdr_runbook_free(rb);
}

/* ---- End to end, on worlds served by `pcdr sim serve` ---- */

/* The folder of a served world's topology.toml (its world folder), in `dir`. */
static void world_dir(const char *topology, char *dir, size_t len) {
  snprintf(dir, len, "%s", topology);
  char *slash = strrchr(dir, '/');
  if (slash != NULL) *slash = '\0';
}

static int sim_quiet; /* nonzero: the next `sim` call's output goes to /dev/null */

/* Runs `$PCDR_BIN sim COMMAND --dir WORLD ARGS…` (args end with NULL) and returns its
 * exit code, or -1 when it could not run. */
static int sim(const char *topology, const char *command, ...) {
  const char *pcdr = getenv("PCDR_BIN");
  if (pcdr == NULL) {
    printf("  PCDR_BIN is not set\n");
    return -1;
  }
  char dir[1024];
  world_dir(topology, dir, sizeof dir);
  char *argv[16] = {(char *)pcdr, "sim", (char *)command, "--dir", dir};
  size_t argc = 5;
  va_list args;
  va_start(args, command);
  const char *arg;
  while ((arg = va_arg(args, const char *)) != NULL && argc < 15) argv[argc++] = (char *)arg;
  va_end(args);
  argv[argc] = NULL;
  fflush(stdout);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (sim_quiet) posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  sim_quiet = 0;
  pid_t pid;
  int spawned = posix_spawn(&pid, pcdr, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

/* How many times `part` occurs in `text`. */
static int occurrences(const char *text, const char *part) {
  int n = 0;
  for (const char *at = text; at != NULL && (at = strstr(at, part)) != NULL; at++) n++;
  return n;
}

/* The "status" of step `id` in a plan's JSON, copied into `status` ("" if absent). */
static void step_status(const char *plan, const char *id, char *status, size_t len) {
  char key[128];
  snprintf(key, sizeof key, "{\"step\":\"%s\"", id);
  status[0] = '\0';
  const char *step = plan == NULL ? NULL : strstr(plan, key);
  if (step == NULL) return;
  const char *next = strstr(step + 1, "{\"step\":\"");
  const char *at = strstr(step, "\"status\":\"");
  if (at == NULL || (next != NULL && at > next)) return;
  at += strlen("\"status\":\"");
  size_t n = strcspn(at, "\"");
  snprintf(status, len, "%.*s", (int)(n < len ? n : len - 1), at);
}

static pcdr_runbook *open_world_runbook(const char *topology, const struct fixture *fx,
                                        const char *journal_name) {
  char journal[1024];
  snprintf(journal, sizeof journal, "%s/%s", fx->workdir, journal_name);
  pcdr_options opts;
  CHECK(pcdr_options_init(&opts) == PCDR_RESULT_OK);
  opts.journal = journal;
  pcdr_runbook *rb = NULL;
  pcdr_result r = pcdr_runbook_new_from_file(topology, &opts, &rb);
  CHECK(r == PCDR_RESULT_OK);
  if (r != PCDR_RESULT_OK) printf("  %s\n", last_error());
  return rb;
}

struct run_events {
  const char *may_skip; /* the steps that may skip: ids in quotes, "\"a\" \"b\"" (NULL: any) */
  atomic_int count;
  atomic_int step_started;
  atomic_int step_finished;
  atomic_int step_skipped;
  atomic_int unexpected_skips; /* skipped steps not in `may_skip` */
};

static void count_event(const char *event_json, void *user_data) {
  struct run_events *events = user_data;
  atomic_fetch_add(&events->count, 1);
  if (contains(event_json, "\"event\":\"step_started\"")) {
    atomic_fetch_add(&events->step_started, 1);
  }
  if (contains(event_json, "\"event\":\"step_finished\"")) {
    atomic_fetch_add(&events->step_finished, 1);
  }
  if (contains(event_json, "\"event\":\"step_skipped\"")) {
    atomic_fetch_add(&events->step_skipped, 1);
    char step[128], quoted[132];
    next_value(event_json, NULL, "\"step\":\"", step, sizeof step);
    snprintf(quoted, sizeof quoted, "\"%s\"", step);
    if (events->may_skip != NULL && !contains(events->may_skip, quoted)) {
      atomic_fetch_add(&events->unexpected_skips, 1);
      printf("  unexpected skip: %s\n", event_json);
    }
  }
}

/* Runs `procedure` to its end; returns whether the outcome says it completed. Every
   step starts and does its work, except that the steps `may_skip` lists may find it
   done and skip: `skips` of them (-1: any number). */
static int run_to_completion(pcdr_runbook *rb, const char *procedure, int steps,
                             const char *may_skip, int skips) {
  struct run_events events = {may_skip, 0, 0, 0, 0, 0};
  CHECK(pcdr_runbook_set_progress_callback(rb, count_event, &events) == PCDR_RESULT_OK);
  char *outcome = NULL;
  pcdr_result r = pcdr_runbook_run(rb, procedure, &outcome);
  CHECK(r == PCDR_RESULT_OK);
  if (r != PCDR_RESULT_OK) printf("  %s: %u %s\n", procedure, r, last_error());
  int completed = contains(outcome, "\"kind\":\"completed\"") &&
                  contains(outcome, "\"completed\":true");
  CHECK(completed);
  pcdr_string_free(outcome);
  CHECK(pcdr_runbook_set_progress_callback(rb, NULL, NULL) == PCDR_RESULT_OK);
  int skipped = atomic_load(&events.step_skipped);
  CHECK(atomic_load(&events.step_started) == steps);
  CHECK(atomic_load(&events.step_finished) == steps - skipped);
  CHECK(skips < 0 || skipped == skips);
  CHECK(atomic_load(&events.unexpected_skips) == 0);
  CHECK(atomic_load(&events.count) >= 2 * steps);

  char *report = NULL;
  CHECK(pcdr_runbook_report(rb, &report) == PCDR_RESULT_OK);
  CHECK(contains(report, "\"completed\":true"));
  pcdr_string_free(report);
  return completed;
}

static void test_world_failover_and_failback(const struct fixture *fx) {
  const char *world = fx->world;

  /* The plan while the primary answers: nine steps, check_sites blocked. */
  pcdr_runbook *rb = open_world_runbook(world, fx, "world-failover.journal");
  char *plan = NULL;
  char status[32];
  CHECK(pcdr_runbook_plan(rb, "failover", &plan) == PCDR_RESULT_OK);
  CHECK(occurrences(plan, "{\"step\":\"") == 9);
  step_status(plan, "check_sites", status, sizeof status);
  CHECK(strcmp(status, "blocked") == 0);
  step_status(plan, "copy_log_backups", status, sizeof status);
  CHECK(strcmp(status, "would_run") == 0);
  CHECK(contains(plan, "activate_backup_servers"));
  pcdr_string_free(plan);

  /* A run refuses while the primary answers, before changing anything. */
  char *outcome = NULL;
  pcdr_result refused = pcdr_runbook_run_step(rb, "failover", "check_sites", &outcome);
  CHECK(refused == PCDR_RESULT_PRECONDITION);
  CHECK(contains(last_error(), "still answers"));
  char kind[32];
  size_t kind_len = 0;
  CHECK(pcdr_error_precondition(kind, sizeof kind, &kind_len) == PCDR_RESULT_OK);
  CHECK(strcmp(kind, "primary_reachable") == 0);
  CHECK(outcome == NULL);
  pcdr_runbook_free(rb);

  CHECK(sim(world, "traffic", "--messages", "20", "--log-backup", NULL) == 0);
  CHECK(sim(world, "traffic", "--messages", "3", NULL) == 0);
  CHECK(sim(world, "disaster", "--site", "primary", NULL) == 0);

  rb = open_world_runbook(world, fx, "world-failover-2.journal");
  plan = NULL;
  CHECK(pcdr_runbook_plan(rb, "failover", &plan) == PCDR_RESULT_OK);
  step_status(plan, "check_sites", status, sizeof status);
  CHECK(strcmp(status, "would_run") == 0);
  pcdr_string_free(plan);
  /* Pipelined, the copy step restored every log backup as it landed. */
  int failed_over = run_to_completion(rb, "failover", 9, "\"apply_unapplied_logs\"", 1);
  pcdr_runbook_free(rb);
  CHECK(sim(world, "verify", "--expect", "failed-over", NULL) == 0);
  if (!failed_over) return;

  CHECK(sim(world, "traffic", "--messages", "10", NULL) == 0);
  CHECK(sim(world, "rebuild", "--site", "primary", NULL) == 0);
  rb = open_world_runbook(world, fx, "world-failback.journal");
  plan = NULL;
  CHECK(pcdr_runbook_plan(rb, "failback", &plan) == PCDR_RESULT_OK);
  CHECK(occurrences(plan, "{\"step\":\"") == 11);
  step_status(plan, "check_rebuilt_primary", status, sizeof status);
  CHECK(strcmp(status, "would_run") == 0);
  pcdr_string_free(plan);
  run_to_completion(rb, "failback", 11, "", 0);
  pcdr_runbook_free(rb);
  CHECK(sim(world, "traffic", "--messages", "5", "--log-backup", NULL) == 0);
  CHECK(sim(world, "tick", "--minutes", "20", NULL) == 0);
  CHECK(sim(world, "verify", "--expect", "normal", NULL) == 0);
}

/* The steps a switchover may find done: the catch-up of a secondary log shipping
 * already brought up to date, the unmirroring of a database no mirror partners, and
 * the tail's restore (pipelined, the copy step restored each file as it landed). */
static const char switchover_may_skip[] =
    "\"copy_backlog\" \"restore_backlog\" \"unmirror_serving_database\" \"restore_tail\"";

/* Runs a switchover to its end in a new journal named `journal_name`, with messages
 * committed after the last log backup (only the tail-log backup holds them); returns
 * whether it completed. Its report shows the pool's outage, fenced by fence_pool and
 * closed by the activation. */
static int switch_over(const char *world, const struct fixture *fx, const char *journal_name) {
  CHECK(sim(world, "traffic", "--messages", "3", NULL) == 0);
  pcdr_runbook *rb = open_world_runbook(world, fx, journal_name);
  int completed = run_to_completion(rb, "switchover", 15, switchover_may_skip, -1);
  char *report = NULL;
  CHECK(pcdr_runbook_report(rb, &report) == PCDR_RESULT_OK);
  const char *outage = report == NULL ? NULL : strstr(report, "\"outage\":{");
  CHECK(contains(outage, "\"fenced_by\":\"fence_pool\""));
  CHECK(outage != NULL && !contains(outage, "\"ended\":null"));
  pcdr_string_free(report);
  pcdr_runbook_free(rb);
  return completed;
}

/* A switchover to the backup site while both sites answer, then one back: the second
 * run of the same procedure returns the pool to the primary site, and the world is as
 * before, log shipping to the backup site included. */
static void test_world_switchover_and_back(const struct fixture *fx) {
  const char *world = fx->switch_world;
  CHECK(sim(world, "traffic", "--messages", "20", "--log-backup", NULL) == 0);

  pcdr_runbook *rb = open_world_runbook(world, fx, "world-switchover-plan.journal");
  char *plan = NULL;
  char status[32];
  CHECK(pcdr_runbook_plan(rb, "switchover", &plan) == PCDR_RESULT_OK);
  CHECK(occurrences(plan, "{\"step\":\"") == 15);
  step_status(plan, "check_switchover", status, sizeof status);
  CHECK(strcmp(status, "would_run") == 0);
  pcdr_string_free(plan);
  pcdr_runbook_free(rb);

  if (!switch_over(world, fx, "world-switchover.journal")) return;
  if (!switch_over(world, fx, "world-switchover-back.journal")) return;
  CHECK(sim(world, "traffic", "--messages", "5", "--log-backup", NULL) == 0);
  CHECK(sim(world, "tick", "--minutes", "20", NULL) == 0);
  CHECK(sim(world, "verify", "--expect", "normal", NULL) == 0);
}

struct slow_canceller {
  pcdr_runbook *rb;
  struct run_events *events;
  pcdr_result result;
  int timed_out;
};

/* Cancels the run once its first step has finished (within 60 s). */
static void *cancel_after_first_step(void *arg) {
  struct slow_canceller *c = arg;
  struct timespec pause = {0, 10 * 1000 * 1000};
  for (int i = 0; i < 6000 && atomic_load(&c->events->step_finished) < 1; i++) {
    nanosleep(&pause, NULL);
  }
  c->timed_out = atomic_load(&c->events->step_finished) < 1;
  c->result = pcdr_runbook_cancel(c->rb);
  return NULL;
}

static void test_world_cancel_then_resume(const struct fixture *fx) {
  const char *world = fx->slow_world;
  CHECK(sim(world, "disaster", "--site", "primary", NULL) == 0);
  pcdr_runbook *rb = open_world_runbook(world, fx, "slow-failover.journal");
  struct run_events events = {NULL, 0, 0, 0, 0, 0};
  CHECK(pcdr_runbook_set_progress_callback(rb, count_event, &events) == PCDR_RESULT_OK);
  struct slow_canceller c = {rb, &events, PCDR_RESULT_OTHER, 0};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, cancel_after_first_step, &c) == 0);
  char *outcome = NULL;
  pcdr_result r = pcdr_runbook_run(rb, "failover", &outcome);
  pthread_join(thread, NULL);
  CHECK(!c.timed_out);
  CHECK(c.result == PCDR_RESULT_OK);
  CHECK(r == PCDR_RESULT_CANCELLED);
  if (r != PCDR_RESULT_CANCELLED) printf("  run: %u %s\n", r, last_error());
  CHECK(outcome == NULL);
  int started = atomic_load(&events.step_started);
  CHECK(started >= 1 && started < 9);

  char *report = NULL;
  CHECK(pcdr_runbook_report(rb, &report) == PCDR_RESULT_OK);
  CHECK(contains(report, "\"completed\":false"));
  pcdr_string_free(report);
  sim_quiet = 1; /* the differences it prints are expected */
  CHECK(sim(world, "verify", "--expect", "failed-over", NULL) != 0);

  /* Resume runs the rest, and the checks again (the first step is one). */
  atomic_store(&events.step_started, 0);
  r = pcdr_runbook_resume(rb, &outcome);
  CHECK(r == PCDR_RESULT_OK);
  if (r != PCDR_RESULT_OK) printf("  resume: %u %s\n", r, last_error());
  CHECK(contains(outcome, "\"completed\":true"));
  pcdr_string_free(outcome);
  CHECK(atomic_load(&events.step_started) <= 9);
  pcdr_runbook_free(rb);
  CHECK(sim(world, "verify", "--expect", "failed-over", NULL) == 0);
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 6) {
    fprintf(stderr, "usage: %s TOPOLOGY WORKDIR [WORLD SLOW_WORLD SWITCH_WORLD]\n", argv[0]);
    return 2;
  }
  struct fixture fx = {argv[1], argv[2], argc == 6 ? argv[3] : NULL,
                       argc == 6 ? argv[4] : NULL, argc == 6 ? argv[5] : NULL};
  static void (*const tests[])(const struct fixture *) = {
      test_version,       test_options_init,     test_options_of_another_size,
      test_failover_journal, test_switch_to,
      test_null_pointers, test_invalid_utf8,     test_bad_topology,
      test_unknown_step,  test_second_free,
      test_small_error_buffer, test_dry_run_plan, test_failing_run,
      test_cancel_from_another_thread, test_procedures_match_the_plans,
      test_procedures_buffer_rules,
  };
  static void (*const world_tests[])(const struct fixture *) = {
      test_world_failover_and_failback,
      test_world_cancel_then_resume,
      test_world_switchover_and_back,
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) tests[i](&fx);
  if (fx.world != NULL) {
    for (size_t i = 0; i < sizeof world_tests / sizeof world_tests[0]; i++) world_tests[i](&fx);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
