#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/log.h"
#include "warehouse/migrate.h"
#include "warehouse/pgconn.h"
#include "ingest/lease.h"
#include "ingest/queue.h"
#include "kpi/scheduler.h"
#include "ingest/source.h"
#include "ingest/writer.h"
#include "warehouse/retention.h"

struct kpid_daemon {
    const kpid_config *cfg;
    kpid_queue *queue;
    kpid_writer *writer;
    kpid_lease *lease;         /* the keeper of exclusive sources' leases, or NULL */
    kpid_source **sources;     /* cfg->n_sources entries; NULL where not started */
    kpid_scheduler *scheduler; /* NULL with --once: main evaluates then */
    kpid_retention *retention; /* the purge of rejected input; NULL with --once */
};

/* At stop, the scheduler gets this long (within the deadline): a sleeping thread ends at
 * once, an evaluation in progress may finish, or is ended; the next start catches up. */
#define SCHEDULER_STOP_BUDGET_US 3000000

void kpid_cursor_set_clear(kpid_cursor_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->sources[i]);
        free(set->cursors[i]);
    }
    free(set->sources);
    free(set->cursors);
    memset(set, 0, sizeof(*set));
}

const char *kpid_cursor_set_get(const kpid_cursor_set *set, const char *source)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->sources[i], source) == 0)
            return set->cursors[i];
    return NULL;
}

/* Reads every source's committed cursor into *ret_set (written only on success).
 * Returns 0, -EIO with *ret_error, or -ENOMEM. */
static int load_cursors(PGconn *conn, kpid_cursor_set *ret_set, char **ret_error)
{
    PGresult *res = PQexec(conn, "SELECT source, cursor FROM kpid.cursor");
    kpid_cursor_set set = {0};
    int n, r = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (asprintf(ret_error, "cannot read kpid.cursor: %s", kpid_pg_error_line(conn, res)) < 0)
            *ret_error = NULL;
        PQclear(res);
        return -EIO;
    }
    n = PQntuples(res);
    set.sources = calloc((size_t)n + 1, sizeof(char *));
    set.cursors = calloc((size_t)n + 1, sizeof(char *));
    if (!set.sources || !set.cursors)
        r = -ENOMEM;
    for (int i = 0; i < n && r == 0; i++) {
        set.sources[i] = strdup(PQgetvalue(res, i, 0));
        set.cursors[i] = strdup(PQgetvalue(res, i, 1));
        set.n++;
        if (!set.sources[i] || !set.cursors[i])
            r = -ENOMEM;
    }
    PQclear(res);
    if (r < 0) {
        kpid_cursor_set_clear(&set);
        return r;
    }
    *ret_set = set;
    return 0;
}

int kpid_warehouse_prepare(const kpid_config *cfg, bool migrate_only, kpid_cursor_set *ret_cursors,
                           char **ret_error)
{
    PGconn *conn = NULL;
    int applied = 0, r;

    *ret_error = NULL;
    r = kpid_pg_open(&cfg->warehouse.pg, &conn, ret_error);
    if (r < 0)
        return r == -EACCES ? r : -EIO;
    r = kpid_migrate(conn, &applied, ret_error);
    if (r == 0) {
        log_info("warehouse schema version=%d applied=%d", kpid_migrate_latest(), applied);
        if (!migrate_only)
            r = load_cursors(conn, ret_cursors, ret_error);
    }
    PQfinish(conn);
    return r;
}

/* The retention of every configured source, for the purge of rejected input: freshly
 * allocated (the caller frees it; NULL when out of memory), its strings are cfg's. */
static kpid_retention_rule *retention_rules(const kpid_config *cfg)
{
    kpid_retention_rule *rules = calloc(cfg->n_sources + 1, sizeof(*rules));

    for (size_t i = 0; rules && i < cfg->n_sources; i++)
        rules[i] =
            (kpid_retention_rule){cfg->sources[i].name, cfg->sources[i].rejected_retention_ms};
    return rules;
}

int kpid_daemon_start(const kpid_config *cfg, const kpid_cursor_set *cursors, bool once,
                      kpid_daemon **ret_daemon)
{
    kpid_daemon *d = calloc(1, sizeof(*d));
    int r;

    if (!d)
        return -ENOMEM;
    d->cfg = cfg;
    d->sources = calloc(cfg->n_sources + 1, sizeof(kpid_source *));
    if (!d->sources) {
        r = -ENOMEM;
        goto fail;
    }
    r = kpid_queue_new((size_t)cfg->queue.max_events, (size_t)cfg->queue.max_bytes, &d->queue);
    if (r < 0)
        goto fail;
    kpid_writer_options wo = {
        .warehouse = &cfg->warehouse.pg,
        .wait_notice_ms = cfg->warehouse.wait_notice_ms,
        .once = once,
        .batch_max_rows = cfg->warehouse.batch_max_rows,
        .flush_interval_ms = cfg->warehouse.flush_interval_ms,
    };
    r = kpid_writer_start(&wo, d->queue, &d->writer);
    if (r < 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_sources && !d->lease; i++)
        if (cfg->sources[i].exclusive &&
            (!once || cfg->sources[i].plugin->def->shape == KPID_SOURCE_POLL) &&
            (r = kpid_lease_start(&cfg->warehouse.pg, cfg->warehouse.takeover_ms, &d->lease)) < 0)
            goto fail;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const kpid_source_config *sc = &cfg->sources[i];
        if (once && sc->plugin->def->shape != KPID_SOURCE_POLL) {
            log_notice("source=%s not started: --once runs poll sources only", sc->name);
            continue;
        }
        kpid_source_options so = {
            .queue = d->queue,
            .key = cfg->pseudonymize ? cfg->pseudonym_key : NULL,
            .key_len = cfg->pseudonym_key_len,
            .initial_cursor = kpid_cursor_set_get(cursors, sc->name),
            .warehouse = &cfg->warehouse.pg,
            .once = once,
            .lease = sc->exclusive ? d->lease : NULL,
            .takeover_ms = cfg->warehouse.takeover_ms,
        };
        r = kpid_source_start(sc, &so, &d->sources[i]);
        if (r < 0) {
            log_err("source=%s cannot start error=\"%s\"", sc->name, strerror(-r));
            goto fail;
        }
    }
    if (!once) {
        kpid_scheduler_options sco = {
            .warehouse = &cfg->warehouse.pg,
            .model = cfg->model,
        };
        r = kpid_scheduler_start(&sco, &d->scheduler);
        if (r < 0) {
            log_err("cannot start the KPI scheduler error=\"%s\"", strerror(-r));
            goto fail;
        }
        kpid_retention_rule *rules = retention_rules(cfg);
        kpid_retention_options ro = {
            .warehouse = &cfg->warehouse.pg,
            .rules = rules,
            .n_rules = cfg->n_sources,
        };
        r = rules ? kpid_retention_start(&ro, &d->retention) : -ENOMEM;
        free(rules);
        if (r < 0)
            goto fail;
    }
    *ret_daemon = d;
    return 0;
fail:
    kpid_daemon_stop(d, kpid_now_us() + 10000000);
    return r;
}

bool kpid_daemon_sources_finished(kpid_daemon *d)
{
    for (size_t i = 0; i < d->cfg->n_sources; i++)
        if (d->sources[i] && !kpid_source_finished(d->sources[i]))
            return false;
    return true;
}

bool kpid_daemon_failed(kpid_daemon *d)
{
    for (size_t i = 0; i < d->cfg->n_sources; i++)
        if (d->sources[i] && kpid_source_failed(d->sources[i]))
            return true;
    return false;
}

bool kpid_daemon_refused(kpid_daemon *d)
{
    return d->writer && kpid_writer_refused(d->writer);
}

void kpid_daemon_status(kpid_daemon *d, double events_per_s, char *out, size_t cap)
{
    size_t items = 0, events = 0, bytes = 0;
    int64_t waited_s = 0;
    const char *state = d->writer ? kpid_writer_state(d->writer, &waited_s) : "ok";
    char waited[32] = "";

    if (strcmp(state, "waiting") == 0)
        snprintf(waited, sizeof(waited), " waited=%llds", (long long)waited_s);
    kpid_queue_depth(d->queue, &items, &events, &bytes);
    snprintf(out, cap,
             "events/s=%.0f queue_events=%zu queue_bytes=%zu warehouse=%s%s kpi_runs=%llu",
             events_per_s, events, bytes, state, waited, (unsigned long long)kpid_scheduler_runs());
}

/* Pipelines with a stuck source or scheduler thread, kept reachable until exit (their
 * threads use them). */
static kpid_daemon *abandoned[16];
static size_t n_abandoned;

int kpid_daemon_evaluate_once(kpid_daemon *d)
{
    kpid_scheduler_options sco = {
        .warehouse = &d->cfg->warehouse.pg,
        .model = d->cfg->model,
    };
    kpid_retention_rule *rules = retention_rules(d->cfg);
    kpid_retention_options ro = {
        .warehouse = &d->cfg->warehouse.pg,
        .rules = rules,
        .n_rules = d->cfg->n_sources,
    };
    int purged = rules ? kpid_retention_run_once(&ro) : -ENOMEM;
    int r;

    free(rules);
    r = kpid_scheduler_run_once(&sco);
    return r < 0 ? r : purged;
}

int kpid_daemon_stop(kpid_daemon *d, int64_t deadline_us)
{
    bool stuck = false;

    if (!d)
        return 0;
    /* No new batches after this; the writer then drains what is queued. */
    for (size_t i = 0; d->sources && i < d->cfg->n_sources; i++)
        if (d->sources[i])
            kpid_source_request_stop(d->sources[i]);
    kpid_scheduler_request_stop(d->scheduler);
    kpid_retention_request_stop(d->retention);
    /* Meanwhile the writer drains on its own; it is told to stop when the scheduler is. */
    if (d->scheduler) {
        int64_t budget = kpid_now_us() + SCHEDULER_STOP_BUDGET_US;
        if (kpid_scheduler_stop(d->scheduler, budget < deadline_us ? budget : deadline_us) < 0)
            stuck = true; /* its threads keep d->scheduler and the model */
        else
            d->scheduler = NULL;
    }
    if (d->retention) {
        int64_t budget = kpid_now_us() + SCHEDULER_STOP_BUDGET_US;
        if (kpid_retention_stop(d->retention, budget < deadline_us ? budget : deadline_us) < 0)
            stuck = true; /* its thread keeps d->retention and the source names */
        else
            d->retention = NULL;
    }
    d->writer = kpid_writer_stop(d->writer, deadline_us);
    for (size_t i = 0; d->sources && i < d->cfg->n_sources; i++) {
        if (!d->sources[i])
            continue;
        while (!kpid_source_finished(d->sources[i]) && kpid_now_us() < deadline_us)
            usleep(10000);
        if (!kpid_source_finished(d->sources[i])) {
            log_warning("source=%s did not stop in time: its plugin is stuck in a callback; "
                        "leaving it behind",
                        d->cfg->sources[i].name);
            stuck = true;
        }
    }
    if (stuck) {
        /* The queue stays (closed, so the stuck thread's pushes fail) and so does d. */
        kpid_queue_close(d->queue);
        if (n_abandoned < sizeof(abandoned) / sizeof(abandoned[0]))
            abandoned[n_abandoned++] = d;
        return -EBUSY;
    }
    for (size_t i = 0; d->sources && i < d->cfg->n_sources; i++)
        d->sources[i] = kpid_source_free(d->sources[i]);
    free(d->sources);
    kpid_lease_stop(d->lease); /* the sources are gone: their locks go with its connection */
    if (d->queue) {
        kpid_queue_close(d->queue);
        d->queue = kpid_queue_free(d->queue);
    }
    free(d);
    return 0;
}
