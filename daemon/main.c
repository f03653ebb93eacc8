/*
 * kpid: collects process KPIs from hospital systems.
 *
 * The main thread owns the configuration and the pipeline (kpid_daemon); it waits for
 * signals, reports status to systemd, reloads on SIGHUP and stops on SIGTERM/SIGINT. The
 * watchdog thread (watchdog.h) pings systemd while the main thread and the writer make
 * progress; every other thread is started by the pipeline.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon.h"
#include "cli/drilldown_cli.h"
#include "cli/kpi_cli.h"
#include "ops/liveness.h"
#include "ops/log.h"
#include "warehouse/migrate.h"
#include "warehouse/pgconn.h"
#include "ingest/queue.h"
#include "ingest/source.h"
#include "ops/watchdog.h"
#include "retry/backoff.h"

#define EX_OK 0
#define EX_FAILURE 1
#define EX_USAGE 64
#define EX_UNAVAILABLE 69

/* How long SIGTERM may take: sources and scheduler stop, the queue is written, then exit. */
#define STOP_BUDGET_US (8 * 1000000LL)
/* --migrate and --once give up on an unreachable warehouse after this long. */
#define CONNECT_BUDGET_US (30 * 1000000LL)
/* Backoff while the warehouse is unavailable, and while it refuses kpid's role. */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define REFUSED_BACKOFF_MAX_MS 60000

/* The main thread's beat: each turn of its loop; its warehouse calls are waits. */
static kpid_beat main_beat = {.name = "main"};
static int wait_signal(const sigset_t *set, int timeout_ms);

/* A SIGTERM or SIGINT taken while preparing the warehouse, for the main loop. */
static bool stop_signaled;
/* An attempt still running when a stop came: it uses its configuration until exit, so
 * neither may be freed (and both stay reachable, for leak checkers). */
static struct prepare_job *abandoned_prepare;

/* One attempt of kpid_warehouse_prepare, in a thread of its own (prepare_attempt). */
typedef struct prepare_job {
    const kpid_config *cfg;
    bool migrate_only;
    kpid_cursor_set cursors;
    char *error;
    int r;
    _Atomic bool done;
} prepare_job;

static void *prepare_main(void *arg)
{
    prepare_job *job = arg;
    job->r = kpid_warehouse_prepare(job->cfg, job->migrate_only, &job->cursors, &job->error);
    atomic_store(&job->done, true);
    return NULL;
}

/*
 * Runs kpid_warehouse_prepare in a thread while this one keeps taking signals: a
 * warehouse that does not answer (a connection attempt, a lock) cannot hold a stop up.
 * Returns what it returned, or -EINTR on SIGTERM/SIGINT. An attempt that has not ended
 * a second after the signal is left to run out on its own (abandoned_prepare): the
 * caller exits, and must not free the configuration then.
 */
static int prepare_attempt(const kpid_config *cfg, bool migrate_only, const sigset_t *sigs,
                           kpid_cursor_set *ret_cursors, char **ret_error)
{
    prepare_job *job = calloc(1, sizeof(*job));
    pthread_t thread;
    int r;

    *ret_error = NULL;
    if (!job)
        return -ENOMEM;
    job->cfg = cfg;
    job->migrate_only = migrate_only;
    if ((r = -pthread_create(&thread, NULL, prepare_main, job)) < 0) {
        free(job);
        return r;
    }
    int64_t give_up_us = INT64_MAX;
    while (!atomic_load(&job->done) && kpid_now_us() < give_up_us) {
        int sig = wait_signal(sigs, 20);
        if ((sig == SIGTERM || sig == SIGINT) && !stop_signaled) {
            stop_signaled = true;
            give_up_us = kpid_now_us() + 1000000;
        }
    }
    if (!atomic_load(&job->done)) {
        pthread_detach(thread);
        abandoned_prepare = job;
        return -EINTR;
    }
    pthread_join(thread, NULL);
    r = job->r;
    *ret_cursors = job->cursors;
    *ret_error = job->error;
    free(job);
    if (stop_signaled) {
        kpid_cursor_set_clear(ret_cursors);
        free(*ret_error);
        *ret_error = NULL;
        return -EINTR;
    }
    return r;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: kpid [-c FILE] [--check-config] [--migrate] [--once]\n"
               "       kpid [-c FILE] --explain KPI_ID\n"
               "       kpid [-c FILE] backfill --from YYYY-MM-DD --to YYYY-MM-DD [--process ID]\n"
               "            [--kpi ID]\n"
               "       kpid [-c FILE] cases --kpi ID --period YYYY-MM-DD [--stratum JSON]\n"
               "            [--population CODE]\n"
               "       kpid [-c FILE] measure-report --kpi ID --period YYYY-MM-DD\n"
               "       kpid --version | --help\n"
               "\n"
               "Collects process KPIs from hospital systems into a PostgreSQL warehouse.\n"
               "\n"
               "  -c, --config FILE   configuration file (default " KPID_DEFAULT_CONFIG ")\n"
               "      --check-config  validate the configuration and exit (0, or 78 on errors)\n"
               "      --migrate       apply warehouse migrations and exit\n"
               "      --once          run every poll source until it has nothing new, commit,\n"
               "                      evaluate every process's KPIs once, and exit (for batch\n"
               "                      jobs and tests)\n"
               "      --explain KPI   print the SQL a KPI compiles to, with its parameters\n"
               "  backfill            recompute the KPIs' values of every period between two\n"
               "                      dates (local midnights in each process's time zone)\n"
               "  cases               list the cases behind a KPI's value of the period\n"
               "                      containing a date, per population (TSV)\n"
               "  measure-report      print a KPI's value of that period as a FHIR R4\n"
               "                      MeasureReport (JSON)\n"
               "      --version       print the version and exit\n"
               "  -h, --help          print this help and exit\n"
               "\n"
               "Environment: KPID_PLUGIN_DIR overrides plugin_dir; KPID_LOG_LEVEL overrides\n"
               "log_level. Exit status: 0 success, 1 failure, 64 usage, 69 warehouse\n"
               "unreachable (--migrate, --once, commands), 77 the warehouse refuses kpid's\n"
               "role (authentication, database, privilege), 78 configuration error.\n");
}

typedef struct options {
    const char *config_path;
    const char *explain; /* --explain KPI_ID */
    bool check_config, migrate, once;
    const char *command; /* backfill, cases, measure-report; options follow */
    int sub_argc;
    char **sub_argv;
} options;

/* Loads the configuration, printing every error. Returns NULL on failure. */
static kpid_config *load_config(const char *path)
{
    kpid_config *cfg = NULL;
    char *errors = NULL;
    int r = kpid_config_load(path, getenv("KPID_PLUGIN_DIR"), &cfg, &errors);

    if (r < 0) {
        /* One line each, as FILE:LINE: message, to stderr (journald keeps them). */
        char *save = NULL;
        for (char *line = strtok_r(errors, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            kpid_log(KPID_LOG_ERR, "%s", line);
        if (!errors)
            kpid_log(KPID_LOG_ERR, "%s: cannot load configuration: %s", path, strerror(-r));
        free(errors);
        return NULL;
    }
    return cfg;
}

static void apply_log_level(const kpid_config *cfg)
{
    enum kpid_log_level level = (enum kpid_log_level)cfg->log_level;
    const char *env = getenv("KPID_LOG_LEVEL");

    if (env && kpid_log_parse_level(env, &level) < 0)
        log_warning("KPID_LOG_LEVEL=\"%s\" is not a log level; using the configured one",
                    kpid_log_value(env));
    kpid_log_set_level(level);
}

/* Waits up to timeout_ms for one of the blocked signals; returns it or 0. */
static int wait_signal(const sigset_t *set, int timeout_ms)
{
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig < 0 ? 0 : sig;
}

/*
 * Connects, migrates and reads cursors, retrying with backoff while the warehouse is
 * unavailable, and slowly while it refuses kpid's role (said once per state change).
 * Gives up at deadline_us (0 = never) or on SIGTERM/SIGINT; with a deadline (--once,
 * --migrate) a refusal gives up at once. Returns 0, -EPROTO (schema too new), -EACCES,
 * -ETIMEDOUT or -EINTR.
 */
static int prepare_warehouse(const kpid_config *cfg, bool migrate_only, const sigset_t *sigs,
                             int64_t deadline_us, kpid_cursor_set *ret_cursors)
{
    enum { UNAVAILABLE = 1, REFUSED = 2 };
    kpid_backoff backoff = {.min = BACKOFF_MIN_MS, .max = BACKOFF_MAX_MS};
    kpid_retry_state state = {0};

    for (;;) {
        char *error = NULL;
        kpid_beat_wait(&main_beat, true);
        int r = prepare_attempt(cfg, migrate_only, sigs, ret_cursors, &error);
        kpid_beat_wait(&main_beat, false);

        if (r == -EINTR)
            return r;
        if (r == 0) {
            if (kpid_retry_succeeded(&state))
                log_notice("warehouse available");
            return 0;
        }
        if (r == -EPROTO) {
            log_err("%s", error ? error : "warehouse schema refused");
            free(error);
            return r;
        }
        bool say = kpid_retry_failed(&state, r == -EACCES ? REFUSED : UNAVAILABLE, kpid_now_us());
        if (say && r == -EACCES)
            log_err("warehouse refuses kpid's role error=\"%s\" hint=\"%s\"%s",
                    kpid_log_value(error), KPID_PG_REFUSED_HINT,
                    deadline_us ? "" : "; retrying every minute at most");
        else if (say)
            log_warning("warehouse unavailable error=\"%s\"; retrying with backoff",
                        kpid_log_value(error ? error : strerror(-r)));
        free(error);
        if (deadline_us && r == -EACCES)
            return r;
        if (deadline_us && kpid_now_us() >= deadline_us)
            return -ETIMEDOUT;
        int sig = wait_signal(sigs, (int)kpid_backoff_next(&backoff));
        if (sig == SIGTERM || sig == SIGINT) {
            stop_signaled = true;
            return -EINTR;
        }
        /* The cap of the next wait: slow while the role is refused. */
        backoff.max = r == -EACCES ? REFUSED_BACKOFF_MAX_MS : BACKOFF_MAX_MS;
    }
}

static int parse_options(int argc, char **argv, options *o)
{
    enum { OPT_CHECK = 256, OPT_MIGRATE, OPT_ONCE, OPT_VERSION, OPT_EXPLAIN };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"migrate", no_argument, NULL, OPT_MIGRATE},
        {"once", no_argument, NULL, OPT_ONCE},
        {"version", no_argument, NULL, OPT_VERSION},
        {"explain", required_argument, NULL, OPT_EXPLAIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    o->config_path = KPID_DEFAULT_CONFIG;
    /* "+": stop at the first non-option, the subcommand, whose options are its own. */
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case OPT_CHECK: o->check_config = true; break;
        case OPT_MIGRATE: o->migrate = true; break;
        case OPT_ONCE: o->once = true; break;
        case OPT_EXPLAIN: o->explain = optarg; break;
        case OPT_VERSION:
            printf("kpid %s (plugin ABI %d.%d)\n", KPID_VERSION, KPID_ABI_MAJOR, KPID_ABI_MINOR);
            exit(EX_OK);
        case 'h': usage(stdout); exit(EX_OK);
        default: usage(stderr); return -EINVAL;
        }
    }
    if (optind < argc &&
        (strcmp(argv[optind], "backfill") == 0 || strcmp(argv[optind], "cases") == 0 ||
         strcmp(argv[optind], "measure-report") == 0)) {
        o->command = argv[optind];
        o->sub_argc = argc - optind;
        o->sub_argv = argv + optind;
        return 0;
    }
    if (optind < argc) {
        fprintf(stderr, "kpid: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

/* Replaces the running pipeline with one of a new configuration, if it is valid. */
static void reload_pipeline(const options *o, kpid_config **cfg, kpid_daemon **d,
                            const sigset_t *sigs)
{
    kpid_cursor_set cursors = {0};
    kpid_config *next;
    int r;

    log_notice("reloading configuration path=\"%s\"", kpid_log_value(o->config_path));
    next = load_config(o->config_path);
    if (!next) {
        log_err("new configuration is invalid; the running one stays in effect");
        return;
    }
    /* Stop the old pipeline first: its committed cursors are the new one's start. A
     * stuck source keeps the old configuration alive: it is not freed then. */
    bool keep_old = kpid_daemon_stop(*d, kpid_now_us() + STOP_BUDGET_US) == -EBUSY;
    *d = NULL;
    r = prepare_warehouse(next, false, sigs, 0, &cursors);
    if (r == -EINTR) {
        /* A stop: the main loop ends. An abandoned attempt still uses next. */
        if (!abandoned_prepare)
            kpid_config_free(next);
        return;
    }
    if (r < 0) {
        /* Only a refused schema ends up here: run the old config's sources again
         * rather than nothing. */
        kpid_config_free(next);
        next = NULL;
        r = prepare_warehouse(*cfg, false, sigs, 0, &cursors);
        if (r == 0 && kpid_daemon_start(*cfg, &cursors, false, d) < 0)
            *d = NULL;
        kpid_cursor_set_clear(&cursors);
        return;
    }
    apply_log_level(next);
    if (kpid_daemon_start(next, &cursors, false, d) < 0) {
        log_err("cannot start the new configuration's pipeline");
        *d = NULL;
    }
    kpid_cursor_set_clear(&cursors);
    if (!keep_old)
        kpid_config_free(*cfg);
    *cfg = next;
    log_notice("configuration reloaded sources=%zu", next->n_sources);
}

/* SIGHUP: a reload, told to systemd; stopping a pipeline and preparing the warehouse are
 * bounded waits, not a stall. */
static void reload(const options *o, kpid_config **cfg, kpid_daemon **d, const sigset_t *sigs)
{
    sd_notify(0, "RELOADING=1");
    kpid_beat_wait(&main_beat, true);
    reload_pipeline(o, cfg, d, sigs);
    kpid_beat_wait(&main_beat, false);
    sd_notify(0, "READY=1");
}

int main(int argc, char **argv)
{
    options o = {0};
    kpid_config *cfg = NULL;
    kpid_daemon *d = NULL;
    kpid_cursor_set cursors = {0};
    sigset_t sigs;
    kpid_watchdog *watchdog = NULL;
    int status = EX_FAILURE, r;

    if (parse_options(argc, argv, &o) < 0)
        return EX_USAGE;

    /* Signals are taken synchronously by this thread only; every thread inherits the
     * mask. They are blocked before anything else, so a SIGTERM while the configuration
     * loads is a stop (exit 0), not death by signal. The commands keep the default
     * actions: an interrupted one ends at once. A closed socket must not kill the daemon. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    if (!o.check_config && !o.explain && !o.command) {
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
    }

    cfg = load_config(o.config_path);
    if (!cfg)
        return KPID_EX_CONFIG;
    if (o.check_config) {
        printf("%s: configuration ok (%zu sources)\n", o.config_path, cfg->n_sources);
        kpid_config_free(cfg);
        return EX_OK;
    }
    apply_log_level(cfg);
    if (o.explain || o.command) {
        if (o.explain)
            status = kpid_cli_explain(cfg, o.explain);
        else if (strcmp(o.command, "backfill") == 0)
            status = kpid_cli_backfill(cfg, o.sub_argc, o.sub_argv);
        else if (strcmp(o.command, "cases") == 0)
            status = kpid_cli_cases(cfg, o.sub_argc, o.sub_argv);
        else
            status = kpid_cli_measure_report(cfg, o.sub_argc, o.sub_argv);
        kpid_config_free(cfg);
        return status;
    }

    r = prepare_warehouse(cfg, o.migrate, &sigs,
                          o.migrate || o.once ? kpid_now_us() + CONNECT_BUDGET_US : 0, &cursors);
    if (r == -EINTR && abandoned_prepare)
        cfg = NULL; /* the attempt still uses it; exit ends it */
    if (r < 0) {
        status = r == -EINTR       ? EX_OK
                 : r == -ETIMEDOUT ? EX_UNAVAILABLE
                 : r == -EACCES    ? KPID_EX_REFUSED
                                   : EX_FAILURE;
        goto out;
    }
    if (o.migrate) {
        printf("warehouse at schema version %d\n", kpid_migrate_latest());
        status = EX_OK;
        goto out;
    }
    r = kpid_daemon_start(cfg, &cursors, o.once, &d);
    kpid_cursor_set_clear(&cursors);
    if (r < 0)
        goto out;

    kpid_liveness_add(&main_beat);
    if ((r = kpid_watchdog_start(&watchdog)) < 0)
        log_warning("cannot start the watchdog thread error=\"%s\"; systemd will restart kpid",
                    strerror(-r));
    sd_notifyf(0, "READY=1\nSTATUS=ingesting from %zu sources\nMAINPID=%lu", cfg->n_sources,
               (unsigned long)getpid());
    log_notice("kpid %s started sources=%zu once=%s", KPID_VERSION, cfg->n_sources,
               o.once ? "yes" : "no");

    uint64_t last_events = kpid_sources_committed_events();
    int64_t last_status = kpid_now_us();
    int64_t deadline = 0;
    bool evaluate = false;
    status = EX_OK;
    for (;;) {
        int sig = wait_signal(&sigs, o.once ? 20 : 250); /* --once ends as soon as it is done */
        int64_t now = kpid_now_us();

        kpid_beat_now(&main_beat);
        if (sig == SIGTERM || sig == SIGINT) {
            log_notice("stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
            deadline = now + STOP_BUDGET_US;
            break;
        }
        if (sig == SIGHUP && !o.once)
            reload(&o, &cfg, &d, &sigs);
        if (stop_signaled) {
            log_notice("stopping: a signal came during the reload");
            deadline = kpid_now_us() + STOP_BUDGET_US;
            break;
        }
        if (o.once && d && kpid_daemon_refused(d)) {
            status = KPID_EX_REFUSED; /* logged by the writer */
            deadline = now + STOP_BUDGET_US;
            break;
        }
        if (o.once && d && kpid_daemon_sources_finished(d)) {
            if (kpid_daemon_failed(d))
                status = EX_FAILURE;
            deadline = INT64_MAX; /* everything submitted is already committed */
            evaluate = true;
            break;
        }
        if (d && now - last_status >= 5000000) {
            char line[200];
            uint64_t ev = kpid_sources_committed_events();
            kpid_daemon_status(d, (double)(ev - last_events) * 1e6 / (double)(now - last_status),
                               line, sizeof(line));
            sd_notifyf(0, "STATUS=%s", line);
            log_debug("status %s", line);
            last_events = ev;
            last_status = now;
        }
    }
    if (evaluate) {
        /* --once: what was ingested is committed; evaluate what is due, then exit. */
        r = kpid_daemon_evaluate_once(d);
        if (r == -ENOTCONN && status == EX_OK)
            status = EX_UNAVAILABLE;
        else if (r == -EACCES)
            status = KPID_EX_REFUSED;
        else if (r < 0)
            status = EX_FAILURE;
    }
    sd_notify(0, "STOPPING=1");
    kpid_beat_wait(&main_beat, true); /* the stop is bounded by its deadline */
    if (kpid_daemon_stop(d, deadline) == -EBUSY)
        cfg = NULL; /* a stuck thread still uses it; exit ends it */
    d = NULL;
    watchdog = kpid_watchdog_stop(watchdog);
    kpid_liveness_remove(&main_beat);
    log_notice("stopped committed_events=%llu",
               (unsigned long long)kpid_sources_committed_events());
out:
    kpid_cursor_set_clear(&cursors);
    if (kpid_daemon_stop(d, kpid_now_us() + STOP_BUDGET_US) == -EBUSY)
        cfg = NULL;
    kpid_config_free(cfg);
    return status;
}
