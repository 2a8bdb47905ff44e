
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * smile-webhook spool list, show, requeue and purge (the records are read
 * by smile_cli_record.c).  nginx's replayer runs meanwhile, so a record is
 * only changed by one step: a rename that never replaces a file, a new
 * mtime, an unlink; each followed by an fsync of the directory.
 */


#define _GNU_SOURCE                 /* renameat2() */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "smile_cli.h"


static int smile_cli_spool_args(const smile_cli_command_t *cmd, int argc,
    char **argv, smile_cli_spool_conf_t *conf, int *first);
static int smile_cli_spool_select(const smile_cli_command_t *cmd,
    smile_cli_spool_t *sp, const smile_cli_spool_conf_t *conf, char **args,
    int nargs);
static int smile_cli_spool_select_file(const smile_cli_command_t *cmd,
    smile_cli_spool_t *sp, const char *file);
static int smile_cli_spool_select_id(smile_cli_spool_t *sp,
    const char *arg, unsigned dead_only);
static void smile_cli_spool_replayer(smile_cli_spool_t *sp);
static int smile_cli_spool_requeue_dead(smile_cli_spool_t *sp,
    smile_cli_record_t *rec, long long now);
static int smile_cli_spool_move(int from, const char *name, int to,
    const char *newname);
static int smile_cli_spool_confirm(size_t n);
static void smile_cli_spool_sync(smile_cli_spool_t *sp);


int
smile_cli_spool_list(const smile_cli_command_t *cmd, int argc, char **argv)
{
    int                     rc, r, first;
    char                    t[SMILE_CLI_SPOOL_TIME_LEN];
    char                    age[SMILE_CLI_SPOOL_AGE_LEN];
    size_t                  i, n[2];
    long long               now, bytes[2], oldest;
    smile_cli_head_t        h;
    smile_cli_spool_t       sp;
    smile_cli_record_t     *rec;
    smile_cli_spool_conf_t  conf;

    rc = smile_cli_spool_args(cmd, argc, argv, &conf, &first);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    if (argc - first != 1) {
        return smile_cli_usage(cmd, "give PATH, and nothing else");
    }

    rc = smile_cli_spool_open(&sp, argv[first]);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    now = (long long) time(NULL);
    n[0] = n[1] = 0;
    bytes[0] = bytes[1] = 0;
    oldest = 0;

    for (i = 0; i < sp.nelts; i++) {
        rec = &sp.elts[i];

        if (rec->dead && !conf.dead) {
            n[1]++;
            bytes[1] += rec->size;
            continue;
        }

        r = smile_cli_spool_head(&sp, rec, &h, 1);

        if (r == SMILE_CLI_REFUSED) {
            /* delivered or moved since the directory was read */
            continue;
        }

        if (r != SMILE_CLI_OK) {
            rc = r > rc ? r : rc;
            h.type.data = (const unsigned char *) "?";
            h.type.len = 1;
        }

        n[rec->dead]++;
        bytes[rec->dead] += rec->size;

        if (!rec->dead && (oldest == 0 || rec->received < oldest)) {
            oldest = rec->received;
        }

        smile_cli_spool_time(rec->received, t);
        smile_cli_spool_age(now - rec->received, age);

        printf("%s  %3lu  %8s  %9lld  %-5s  %s  ", t, rec->attempts, age,
               rec->size, smile_cli_spool_where(rec), rec->name + rec->id);
        smile_cli_spool_print(h.type.data, h.type.len);
        putchar('\n');

        smile_cli_buf_free(&h.buf);
    }

    if (n[0] == 0) {
        printf("no events in %s\n", sp.path);

    } else {
        smile_cli_spool_time(oldest, t);
        smile_cli_spool_age(now - oldest, age);

        printf("%zu event%s, %lld bytes in %s; the oldest received %s, "
               "%s ago\n", n[0], n[0] == 1 ? "" : "s", bytes[0], sp.path,
               t, age);
    }

    if (conf.dead) {
        printf("%zu dead event%s, %lld bytes in %s/dead\n", n[1],
               n[1] == 1 ? "" : "s", bytes[1], sp.path);

    } else if (n[1]) {
        printf("%zu dead event%s in %s/dead: --dead lists them\n", n[1],
               n[1] == 1 ? "" : "s", sp.path);
    }

    if (sp.temps) {
        printf("%zu tmp-* file%s ignored: a write in progress, or left by "
               "a crash (nginx removes those after an hour)\n", sp.temps,
               sp.temps == 1 ? "" : "s");
    }

    if (sp.foreign) {
        printf("%zu other file%s ignored\n", sp.foreign,
               sp.foreign == 1 ? "" : "s");
    }

    smile_cli_spool_replayer(&sp);

    smile_cli_spool_close(&sp);

    return rc;
}


int
smile_cli_spool_show(const smile_cli_command_t *cmd, int argc, char **argv)
{
    int                     rc, r, first, n;
    size_t                  i;
    long long               now;
    smile_cli_head_t        h;
    smile_cli_spool_t       sp;
    smile_cli_record_t     *rec;
    smile_cli_spool_conf_t  conf;

    rc = smile_cli_spool_args(cmd, argc, argv, &conf, &first);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    if (conf.all || conf.all_dead) {
        return smile_cli_usage(cmd, "invalid options");
    }

    if (argc - first < 2) {
        return smile_cli_usage(cmd, "give PATH and an ID or FILE");
    }

    rc = smile_cli_spool_open(&sp, argv[first]);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    rc = smile_cli_spool_select(cmd, &sp, &conf, argv + first + 1,
                                argc - first - 1);

    now = (long long) time(NULL);
    n = 0;

    for (i = 0; i < sp.nelts && rc != SMILE_CLI_USAGE; i++) {
        rec = &sp.elts[i];

        if (!rec->selected) {
            continue;
        }

        r = smile_cli_spool_head(&sp, rec, &h, 0);

        if (r != SMILE_CLI_OK) {
            rc = r > rc ? r : rc;
            continue;
        }

        if (n++) {
            putchar('\n');
        }

        smile_cli_spool_print_head(&sp, rec, &h, &conf, now);

        if (conf.body && smile_cli_spool_print_body(&sp, rec, &h)
                         != SMILE_CLI_OK)
        {
            rc = SMILE_CLI_NOINPUT > rc ? SMILE_CLI_NOINPUT : rc;
        }

        smile_cli_buf_free(&h.buf);
    }

    smile_cli_spool_close(&sp);

    return rc;
}


int
smile_cli_spool_requeue(const smile_cli_command_t *cmd, int argc,
    char **argv)
{
    int                     rc, r, err, first;
    size_t                  i;
    long long               now;
    smile_cli_head_t        h;
    smile_cli_spool_t       sp;
    smile_cli_record_t     *rec;
    smile_cli_spool_conf_t  conf;
    struct timespec         ts[2];

    rc = smile_cli_spool_args(cmd, argc, argv, &conf, &first);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    if (argc - first < 1) {
        return smile_cli_usage(cmd, "no PATH");
    }

    rc = smile_cli_spool_open(&sp, argv[first]);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    rc = smile_cli_spool_select(cmd, &sp, &conf, argv + first + 1,
                                argc - first - 1);

    now = (long long) time(NULL);

    /* mtime 0: due whatever the back-off, which never exceeds an hour */

    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = 0;
    ts[1].tv_nsec = 0;

    for (i = 0; i < sp.nelts && rc != SMILE_CLI_USAGE; i++) {
        rec = &sp.elts[i];

        if (!rec->selected) {
            continue;
        }

        /* a record the replayer cannot read would only wait for dead/ */

        r = smile_cli_spool_head(&sp, rec, &h, 0);

        if (r != SMILE_CLI_OK) {
            smile_cli_error("%s/%s%s: not requeued", sp.path,
                            smile_cli_spool_dir(rec), rec->name);
            rc = r > rc ? r : rc;
            continue;
        }

        smile_cli_buf_free(&h.buf);

        if (rec->dead) {
            r = smile_cli_spool_requeue_dead(&sp, rec, now);
            rc = r > rc ? r : rc;
            continue;
        }

        if (utimensat(sp.dir, rec->name, ts, AT_SYMLINK_NOFOLLOW) == -1) {
            err = errno;
            smile_cli_error("%s/%s: cannot set its mtime: %s", sp.path,
                            rec->name, err == ENOENT
                            ? "it is gone (delivered meanwhile?)"
                            : strerror(err));
            r = err == ENOENT ? SMILE_CLI_REFUSED : SMILE_CLI_NOINPUT;
            rc = r > rc ? r : rc;
            continue;
        }

        printf("%s/%s: due now (mtime set to 0); the replayer takes it at "
               "its next scan\n", sp.path, rec->name);
    }

    smile_cli_spool_sync(&sp);
    smile_cli_spool_close(&sp);

    return rc;
}


int
smile_cli_spool_purge(const smile_cli_command_t *cmd, int argc,
    char **argv)
{
    int                     rc, r, err, first;
    size_t                  i, n, live;
    smile_cli_spool_t       sp;
    smile_cli_record_t     *rec;
    smile_cli_spool_conf_t  conf;

    rc = smile_cli_spool_args(cmd, argc, argv, &conf, &first);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    if (argc - first < 1) {
        return smile_cli_usage(cmd, "no PATH");
    }

    rc = smile_cli_spool_open(&sp, argv[first]);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    rc = smile_cli_spool_select(cmd, &sp, &conf, argv + first + 1,
                                argc - first - 1);

    n = 0;
    live = 0;

    for (i = 0; i < sp.nelts && rc != SMILE_CLI_USAGE; i++) {
        rec = &sp.elts[i];

        if (rec->selected) {
            n++;
            live += !rec->dead;
        }
    }

    if (n == 0 || rc == SMILE_CLI_USAGE) {
        if (rc == SMILE_CLI_OK) {
            printf("nothing to purge in %s\n", sp.path);
        }

        smile_cli_spool_close(&sp);
        return rc;
    }

    if (!conf.yes) {
        printf("to delete:\n");

        for (i = 0; i < sp.nelts; i++) {
            rec = &sp.elts[i];

            if (rec->selected) {
                printf("  %s/%s%s\n", sp.path,
                       smile_cli_spool_dir(rec), rec->name);
            }
        }
    }

    if (live) {
        smile_cli_error("warning: %zu event%s of %s %s not delivered yet: "
                        "purged, %s lost", live, live == 1 ? "" : "s",
                        sp.path, live == 1 ? "was" : "were",
                        live == 1 ? "it is" : "they are");
    }

    if (!conf.yes && smile_cli_spool_confirm(n) != SMILE_CLI_OK) {
        smile_cli_spool_close(&sp);
        return SMILE_CLI_REFUSED;
    }

    for (i = 0; i < sp.nelts; i++) {
        rec = &sp.elts[i];

        if (!rec->selected) {
            continue;
        }

        if (unlinkat(rec->dead ? sp.dead : sp.dir, rec->name, 0) == -1) {
            err = errno;
            smile_cli_error("%s/%s%s: cannot delete it: %s", sp.path,
                            smile_cli_spool_dir(rec), rec->name,
                            err == ENOENT
                            ? "it is gone (delivered meanwhile?)"
                            : strerror(err));
            r = err == ENOENT ? SMILE_CLI_REFUSED : SMILE_CLI_NOINPUT;
            rc = r > rc ? r : rc;
            continue;
        }

        printf("deleted %s/%s%s\n", sp.path, smile_cli_spool_dir(rec),
               rec->name);
    }

    smile_cli_spool_sync(&sp);
    smile_cli_spool_close(&sp);

    return rc;
}


/* the options; *first is the index of PATH */

static int
smile_cli_spool_args(const smile_cli_command_t *cmd, int argc, char **argv,
    smile_cli_spool_conf_t *conf, int *first)
{
    int  c;

    memset(conf, 0, sizeof(smile_cli_spool_conf_t));
    conf->header = SMILE_CLI_DEFAULT_HEADER;

    while ((c = getopt_long(argc, argv, "", cmd->options, NULL))
           != -1)
    {
        switch (c) {

        case SMILE_CLI_OPT_DEAD:
            conf->dead = 1;
            break;

        case SMILE_CLI_OPT_ALL:
            conf->all = 1;
            break;

        case SMILE_CLI_OPT_ALL_DEAD:
            conf->all_dead = 1;
            break;

        case SMILE_CLI_OPT_BODY:
            conf->body = 1;
            break;

        case SMILE_CLI_OPT_SIGNATURE:
            conf->signature = 1;
            break;

        case SMILE_CLI_OPT_HEADERS:
            conf->headers = 1;
            break;

        case SMILE_CLI_OPT_HEADER:
            conf->header = optarg;
            break;

        case SMILE_CLI_OPT_YES:
            conf->yes = 1;
            break;

        default:
            return smile_cli_usage(cmd, "invalid options");
        }
    }

    if (conf->all + conf->all_dead > 1) {
        return smile_cli_usage(cmd, "give --all or --all-dead, not both");
    }

    *first = optind;

    return SMILE_CLI_OK;
}


/*
 * Marks the records named by the arguments: an ID (every record of that
 * event id), a file name ev-..., or a path to one in PATH or PATH/dead;
 * or, without arguments, --all, --all-dead or --dead.  Returns
 * SMILE_CLI_OK, SMILE_CLI_REFUSED when one named nothing (the others
 * are marked), or SMILE_CLI_USAGE.
 */

static int
smile_cli_spool_select(const smile_cli_command_t *cmd, smile_cli_spool_t *sp,
    const smile_cli_spool_conf_t *conf, char **args, int nargs)
{
    int     i, rc, r;
    size_t  k;

    if (conf->all || conf->all_dead) {
        if (nargs) {
            return smile_cli_usage(cmd, "give an ID or FILE, or --all or "
                                   "--all-dead, not both");
        }

        for (k = 0; k < sp->nelts; k++) {
            sp->elts[k].selected = conf->all || sp->elts[k].dead;
        }

        return SMILE_CLI_OK;
    }

    if (nargs == 0) {
        if (!conf->dead) {
            return smile_cli_usage(cmd, "give an ID or FILE, --dead, "
                                   "--all-dead or --all");
        }

        for (k = 0; k < sp->nelts; k++) {
            sp->elts[k].selected = sp->elts[k].dead;
        }

        return SMILE_CLI_OK;
    }

    rc = SMILE_CLI_OK;

    for (i = 0; i < nargs; i++) {

        if (strchr(args[i], '/')) {
            r = smile_cli_spool_select_file(cmd, sp, args[i]);

        } else {
            r = smile_cli_spool_select_id(sp, args[i], conf->dead);

            if (r == SMILE_CLI_USAGE) {
                return smile_cli_usage(cmd, "\"%s\" is neither an event id "
                                       "nor a record's name", args[i]);
            }
        }

        if (r == SMILE_CLI_USAGE) {
            return r;
        }

        rc = r > rc ? r : rc;
    }

    return rc;
}


/* a path to a record: its directory must be PATH or PATH/dead */

static int
smile_cli_spool_select_file(const smile_cli_command_t *cmd,
    smile_cli_spool_t *sp, const char *file)
{
    char                 dir[PATH_MAX];
    size_t               k, len;
    unsigned             dead;
    const char          *name;
    struct stat          st, d;
    smile_cli_record_t   rec;

    name = strrchr(file, '/') + 1;
    len = name - file;

    if (len >= sizeof(dir)) {
        return smile_cli_usage(cmd, "the path \"%s\" is too long", file);
    }

    memcpy(dir, file, len);
    dir[len] = '\0';

    if (stat(dir, &st) == -1) {
        smile_cli_error("cannot use \"%s\": %s", file, strerror(errno));
        return SMILE_CLI_REFUSED;
    }

    if (fstat(sp->dir, &d) == 0 && d.st_dev == st.st_dev
        && d.st_ino == st.st_ino)
    {
        dead = 0;

    } else if (sp->dead != -1 && fstat(sp->dead, &d) == 0
               && d.st_dev == st.st_dev && d.st_ino == st.st_ino)
    {
        dead = 1;

    } else {
        return smile_cli_usage(cmd, "\"%s\" is not in %s or %s/dead", file,
                               sp->path, sp->path);
    }

    if (smile_cli_spool_name(name, &rec) != 0) {
        return smile_cli_usage(cmd, "\"%s\" is not a record "
                               "(ev-RECEIVED-ATTEMPTS-ID)", file);
    }

    for (k = 0; k < sp->nelts; k++) {
        if (sp->elts[k].dead == dead
            && strcmp(sp->elts[k].name, name) == 0)
        {
            sp->elts[k].selected = 1;
            return SMILE_CLI_OK;
        }
    }

    smile_cli_error("no record \"%s\"", file);

    return SMILE_CLI_REFUSED;
}


/* a record's name, else an event id */

static int
smile_cli_spool_select_id(smile_cli_spool_t *sp, const char *arg,
    unsigned dead_only)
{
    size_t              k, n;
    smile_cli_record_t  rec;

    n = 0;

    for (k = 0; k < sp->nelts; k++) {
        if ((sp->elts[k].dead || !dead_only)
            && strcmp(sp->elts[k].name, arg) == 0)
        {
            sp->elts[k].selected = 1;
            return SMILE_CLI_OK;
        }
    }

    if (!smile_is_id((const unsigned char *) arg, strlen(arg))) {
        return SMILE_CLI_USAGE;
    }

    for (k = 0; k < sp->nelts; k++) {
        if ((sp->elts[k].dead || !dead_only)
            && strcmp(sp->elts[k].name + sp->elts[k].id, arg) == 0)
        {
            sp->elts[k].selected = 1;
            n++;
        }
    }

    if (n == 0) {
        smile_cli_error("no record %s \"%s\" in %s%s",
                        smile_cli_spool_name(arg, &rec) == 0
                        ? "named" : "of event id", arg, sp->path,
                        dead_only ? "/dead" : " or its dead/");
        return SMILE_CLI_REFUSED;
    }

    return SMILE_CLI_OK;
}


/*
 * Whether a replayer holds PATH/.lock: a shared lock is refused while it
 * does.  Taken and dropped at once; a replayer that tries at that moment
 * takes it at its next scan, a second later.
 */

static void
smile_cli_spool_replayer(smile_cli_spool_t *sp)
{
    int  fd;

    fd = openat(sp->dir, ".lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd == -1) {
        if (errno == ENOENT) {
            printf("replayer: none (no %s/.lock: no nginx has replayed "
                   "this spool)\n", sp->path);
        }

        return;
    }

    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        (void) flock(fd, LOCK_UN);
        printf("replayer: none (no process holds %s/.lock: is nginx "
               "running with this spool?)\n", sp->path);

    } else if (errno == EWOULDBLOCK) {
        printf("replayer: running (a process holds %s/.lock)\n", sp->path);
    }

    close(fd);
}


/*
 * PATH/dead/ev-RECEIVED-N-ID back to PATH as ev-NOW-N-ID with mtime 0:
 * with its old time, the replayer's next scan would find it past "keep"
 * and move it to dead/ again.
 */

static int
smile_cli_spool_requeue_dead(smile_cli_spool_t *sp, smile_cli_record_t *rec,
    long long now)
{
    int                  n, err;
    char                 name[sizeof(rec->name)];
    char                 t[SMILE_CLI_SPOOL_TIME_LEN];
    size_t               k;
    struct timespec      ts[2];
    smile_cli_record_t  *live;

    /* two records of one id would both be delivered */

    for (k = 0; k < sp->nelts; k++) {
        live = &sp->elts[k];

        if (!live->dead
            && strcmp(live->name + live->id, rec->name + rec->id) == 0)
        {
            smile_cli_error("%s/dead/%s: not requeued: %s/%s holds event "
                            "id \"%s\" already", sp->path, rec->name,
                            sp->path, live->name, rec->name + rec->id);
            return SMILE_CLI_REFUSED;
        }
    }

    n = snprintf(name, sizeof(name), "ev-%lld-%lu-%s", now, rec->attempts,
                 rec->name + rec->id);

    if (n < 0 || (size_t) n >= sizeof(name)) {
        smile_cli_error("%s/dead/%s: not requeued: its new name would be "
                        "too long", sp->path, rec->name);
        return SMILE_CLI_FAILURE;
    }

    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = 0;
    ts[1].tv_nsec = 0;

    if (utimensat(sp->dead, rec->name, ts, AT_SYMLINK_NOFOLLOW) == -1
        || smile_cli_spool_move(sp->dead, rec->name, sp->dir, name) != 0)
    {
        err = errno;
        smile_cli_error("%s/dead/%s: not requeued: %s", sp->path, rec->name,
                        err == EEXIST ? "the new name exists already"
                                      : strerror(err));
        return err == EEXIST || err == ENOENT ? SMILE_CLI_REFUSED
                                              : SMILE_CLI_NOINPUT;
    }

    smile_cli_spool_time(now, t);

    printf("%s/dead/%s -> %s/%s: due now; its received time restarts at "
           "%s, from which keep counts\n", sp->path, rec->name, sp->path,
           name, t);

    /* it is a record of PATH now */

    strcpy(rec->name, name);
    rec->received = now;
    rec->dead = 0;

    return SMILE_CLI_OK;
}


/* a rename that never replaces a file */

static int
smile_cli_spool_move(int from, const char *name, int to, const char *newname)
{
    if (renameat2(from, name, to, newname, RENAME_NOREPLACE) == 0) {
        return 0;
    }

    if (errno != EINVAL && errno != ENOSYS) {
        return -1;
    }

    /* a file system without RENAME_NOREPLACE: link() does not replace */

    if (linkat(from, name, to, newname, 0) == -1) {
        return -1;
    }

    if (unlinkat(from, name, 0) == -1) {
        (void) unlinkat(to, newname, 0);
        return -1;
    }

    return 0;
}


/* "y" or "yes" typed on the terminal */

static int
smile_cli_spool_confirm(size_t n)
{
    int      tty;
    char     answer[16];
    size_t   len;
    ssize_t  r;

    fflush(stdout);

    tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (tty == -1) {
        smile_cli_error("nothing deleted: no terminal to confirm on; give "
                        "--yes");
        return SMILE_CLI_REFUSED;
    }

    dprintf(tty, "Delete %zu record%s? [y/N] ", n, n == 1 ? "" : "s");

    len = 0;

    for ( ;; ) {
        r = read(tty, answer + len, 1);

        if (r == -1 && errno == EINTR) {
            continue;
        }

        if (r <= 0 || answer[len] == '\n') {
            break;
        }

        if (len < sizeof(answer) - 1) {
            len++;
        }
    }

    close(tty);

    answer[len] = '\0';

    if (strcasecmp(answer, "y") != 0 && strcasecmp(answer, "yes") != 0) {
        smile_cli_error("nothing deleted");
        return SMILE_CLI_REFUSED;
    }

    return SMILE_CLI_OK;
}


/* the renames and unlinks made durable */

static void
smile_cli_spool_sync(smile_cli_spool_t *sp)
{
    if (fsync(sp->dir) == -1) {
        smile_cli_error("warning: fsync() \"%s\" failed: %s", sp->path,
                        strerror(errno));
    }

    if (sp->dead != -1 && fsync(sp->dead) == -1) {
        smile_cli_error("warning: fsync() \"%s/dead\" failed: %s", sp->path,
                        strerror(errno));
    }
}
