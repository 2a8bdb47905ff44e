
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * smile-webhook: the command table, dispatch, help and error reporting.
 * Each command is a handler in smile_cli_commands[]; "spool" is a command
 * of commands, with its own table (smile_cli_spool_commands[]).
 */


#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/opensslv.h>
#include <yajl/yajl_version.h>
#include <curl/curl.h>

#include "smile_cli.h"


#ifndef SMILE_CLI_VERSION
#define SMILE_CLI_VERSION  "unknown"
#endif


static int smile_cli_help_cmd(const smile_cli_command_t *cmd, int argc,
    char **argv);
static const smile_cli_command_t *smile_cli_find(
    const smile_cli_command_t *table, const char *name);
static int smile_cli_group(const smile_cli_command_t *group, int argc,
    char **argv);
static int smile_cli_options(const smile_cli_command_t *cmd, int argc,
    char **argv);
static void smile_cli_help_all(void);


static const char  smile_cli_intro[] =
"Usage: " SMILE_CLI_NAME " COMMAND [OPTION]... [ARGUMENT]...\n"
"\n"
"Signs, verifies and sends Smile webhooks with the signature, HMAC and\n"
"event parser code of ngx_http_smile_webhook_module, so that \"verify\"\n"
"gives the module's verdict on a body; lists, shows, requeues and purges\n"
"the records of a smile_webhook_spool directory.\n"
"\n"
"Commands:\n";


static const char  smile_cli_common[] =
"Secret (sign, verify, send): --secret-file FILE, else the environment\n"
"variable " SMILE_CLI_ENV_SECRET ", else a prompt on the terminal with\n"
"echo off.  FILE is read as smile_webhook_secret_file reads it: one secret\n"
"a line, empty lines and lines starting with \"#\" skipped, a final CR\n"
"dropped, at most 64k.  The secret is never taken from the command line\n"
"and never printed.\n"
"\n"
"Exit codes:\n"
"  0  success: sign printed the signature; verify: ok; send: every\n"
"     answer was 2xx; examples printed; spool: done\n"
"  1  verify: any result but ok; send: an answer was not 2xx; spool: no\n"
"     record of that ID or FILE, a record gone meanwhile, a requeue\n"
"     refused (the name is taken, PATH holds the id), purge not confirmed\n"
"  2  bad usage: unknown command or option, missing or extra argument,\n"
"     invalid option value, URL, ID or FILE\n"
"  3  a file or standard input cannot be read or used; spool: PATH or a\n"
"     record cannot be read or changed, or a record is malformed\n"
"  4  no usable secret: empty, none in the file, file larger than 64k,\n"
"     or no terminal to prompt on\n"
"  5  send: the endpoint cannot be reached (name, connection, timeout)\n"
"  6  send: TLS failure (handshake, certificate verification)\n"
"  7  any other failure (OpenSSL, memory, HTTP transfer)\n"
"\n"
"Options of every command: -h, --help.  Also: " SMILE_CLI_NAME
" --version.\n"
"The manual: man " SMILE_CLI_NAME ".\n";


static const char  smile_cli_sign_help[] =
"Prints the Smile-Signature of a body: the HMAC-SHA512 of its bytes keyed\n"
"with the secret, as 128 lowercase hex digits and a newline.  The body is\n"
"FILE, or standard input when FILE is absent or \"-\".  With several\n"
"secrets in the secret file, the first one signs.\n"
"\n"
"Options:\n"
"  --secret-file FILE      read the secret from FILE\n"
"  -h, --help              this help\n";


static const char  smile_cli_verify_help[] =
"Gives the module's verdict on a body (FILE, or standard input when FILE\n"
"is absent or \"-\") received with a signature header.  The first line is\n"
"the result, as $smile_webhook_result would hold it: ok,\n"
"missing_signature, malformed_signature, bad_signature, malformed_event,\n"
"stale or ignored.  Any other result is followed by \"reason: ...\" (the\n"
"reason the module logs).  When a secret matched, the event fields the\n"
"module would put in its variables follow, each when present: \"id:\",\n"
"\"type:\", \"version:\", \"createdAt:\", \"userId:\", \"accountId:\" and\n"
"\"key:\" (the secret that matched, as $smile_webhook_key: lineN for the\n"
"Nth line of the secret file, secret1 otherwise).  Exits 0 only for ok.\n"
"\n"
"The checks run in the module's order: the header (missing_signature\n"
"without --signature; malformed_signature unless exactly one --signature\n"
"of 128 hex digits), the HMAC against every secret (bad_signature), the\n"
"event (malformed_event), the type filter (--events: ignored), and the\n"
"age of the signed createdAt (--max-age: stale, or malformed_event when\n"
"createdAt is missing or not an RFC 3339 time).  The results that depend\n"
"on the connection or on a dedupe zone (ip_denied, method_not_allowed,\n"
"duplicate, in_flight) are not judged here.\n"
"\n"
"Options:\n"
"  --signature HEX         the signature header's value; spaces around it\n"
"                          are dropped, as nginx drops them; given twice,\n"
"                          it is a repeated header\n"
"  --secret-file FILE      read the secrets from FILE; each is tried\n"
"  --events TYPE[,TYPE]... as smile_webhook_events: an event of another\n"
"                          type is ignored (may be repeated)\n"
"  --max-age TIME          as smile_webhook_max_age: a createdAt older than\n"
"                          TIME is stale; TIME is seconds, or a number\n"
"                          with a unit s, m, h, d or w (5m, 1h30m); off\n"
"  --skew TIME             how far in the future createdAt may be, with\n"
"                          --max-age (default 60s)\n"
"  --now TIME              judge the age as of TIME (an RFC 3339 time, or\n"
"                          @SECONDS since the epoch), not the clock's time\n"
"  -h, --help              this help\n";


static const char  smile_cli_send_help[] =
"Signs and POSTs events to URL (http or https), one request each, as Smile\n"
"delivers them: the body, Content-Type: application/json and the\n"
"signature header.  Prints one line per event: the HTTP status, the\n"
"X-Smile-Webhook-Result response header (\"-\" when absent), the event\n"
"type and id (\"-\" for a body that is no event), then a summary.  Exits 0\n"
"only when every answer was 2xx.  Stops at the first request that gets no\n"
"answer (exit 5, or 6 for TLS).\n"
"\n"
"The events: --all sends Smile's 25 documented example events, built into\n"
"the command (see \"examples\"); --type those of the types given; FILE...\n"
"the given files, byte for byte (\"-\" is standard input).\n"
"\n"
"Options:\n"
"  --all                   send every example event\n"
"  --type TYPE             send the example event of type TYPE (may be\n"
"                          repeated; case does not matter)\n"
"  --fresh                 give each event a new id and a createdAt of now\n"
"                          (then sign it), so that smile_webhook_dedupe and\n"
"                          smile_webhook_max_age do not refuse it\n"
"  --secret-file FILE      read the secret from FILE (the first one signs)\n"
"  --signature-header NAME the header that carries the signature (default\n"
"                          " SMILE_CLI_DEFAULT_HEADER ", as\n"
"                          smile_webhook_signature_header)\n"
"  --timeout SECONDS       for each request (default 10)\n"
"  --cacert FILE           trust the CA certificates in FILE (https)\n"
"  --insecure              do not verify the server's certificate (https)\n"
"  -h, --help              this help\n"
"\n"
"nginx tells the client the module's result only when configured to:\n"
"    add_header X-Smile-Webhook-Result $smile_webhook_result always;\n"
"The environment variables http_proxy, https_proxy and no_proxy apply.\n";


static const char  smile_cli_examples_help[] =
"Without TYPE, lists Smile's example events built into the command: type,\n"
"id, size in bytes and the file of the module's t/events/ it comes from.\n"
"With TYPE (case does not matter), prints that event's body byte for\n"
"byte, so that\n"
"    " SMILE_CLI_NAME " examples USER_CREATED | " SMILE_CLI_NAME " sign\n"
"prints the signature that \"send --type USER_CREATED\" sends.\n"
"\n"
"Options:\n"
"  --fresh                 print the body with a new id and a createdAt of\n"
"                          now, as \"send --fresh\" sends it\n"
"  -h, --help              this help\n";


static const char  smile_cli_spool_help[] =
"The records of a smile_webhook_spool directory PATH, as the module\n"
"writes them: PATH/ev-RECEIVED-ATTEMPTS-ID (RECEIVED: when nginx received\n"
"the event, in seconds since the epoch; ATTEMPTS: the deliveries tried;\n"
"ID: the event id), header lines, a blank line and the body.  PATH/dead/\n"
"holds the events not delivered within \"keep\"; tmp-* files are writes\n"
"in progress, or left by a crash.  A record is named by its event ID\n"
"(every record of that id), its file name, or its path.  No command\n"
"prints a body or the signature header's value unless asked to; a\n"
"record holds no secret.  nginx's replayer may run meanwhile: a record\n"
"is changed only by one atomic step (rename, mtime, unlink).\n";


static const char  smile_cli_spool_list_help[] =
"One line per record of PATH (with --dead, then of PATH/dead): the time\n"
"in its name (RFC 3339, UTC: when nginx received the event, or when it\n"
"was requeued from dead/), the attempts made, its age, its size in\n"
"bytes, \"spool\" or \"dead\", the event id and type.  Then a summary:\n"
"events, bytes and the oldest; dead events; tmp-* files (writes in\n"
"progress, or left by a crash) and other files, ignored; whether a\n"
"replayer holds PATH/.lock.  A malformed record is listed with type \"?\"\n"
"and reported on standard error (exit 3).\n"
"\n"
"Options:\n"
"  --dead                  list the records of PATH/dead too\n"
"  -h, --help              this help\n";


static const char  smile_cli_spool_show_help[] =
"Prints the header lines of the records named: file, state, received\n"
"(and requeued, when the name's time differs), attempts, size, socket,\n"
"host, uri, id, type, created-at, user-id, one \"header:\" line for each\n"
"request header kept (the values of Accept, Accept-Encoding,\n"
"Content-Encoding, Content-Type and User-Agent; the others' sizes) and\n"
"length.  Bytes outside printable ASCII are shown as \\xNN.  A blank line\n"
"separates records.\n"
"\n"
"Options:\n"
"  --body                  print the body too, after a blank line, byte\n"
"                          for byte\n"
"  --signature             show the signature header's value\n"
"  --headers               show the other headers' values\n"
"  --signature-header NAME the signature header (default\n"
"                          " SMILE_CLI_DEFAULT_HEADER ", as\n"
"                          smile_webhook_signature_header); a header whose\n"
"                          name contains \"signature\" is hidden too\n"
"  --dead                  look in PATH/dead only\n"
"  -h, --help              this help\n";


static const char  smile_cli_spool_requeue_help[] =
"Makes records due now.  The replayer delivers a record of PATH when\n"
"now >= mtime + retry * 2^(ATTEMPTS - 1) (at most an hour, never less\n"
"than retry): requeue sets its mtime to 0 (1970), and the replayer takes\n"
"it at its next scan, within a second.  A record of PATH/dead is moved\n"
"back to PATH, renamed ev-NOW-ATTEMPTS-ID, with mtime 0: the replayer\n"
"moves a record older than \"keep\" by the time in its name to dead/\n"
"again, so that time restarts now (the record's \"received\" line keeps\n"
"the original).  The move is one rename that never replaces a file; a\n"
"dead record whose event id PATH holds already is not requeued (exit 1),\n"
"nor is a malformed one (exit 3).\n"
"\n"
"Options:\n"
"  --dead                  the records of PATH/dead: all of them, or\n"
"                          those of the IDs given\n"
"  --all-dead              every record of PATH/dead\n"
"  --all                   every record, of PATH and of PATH/dead\n"
"  -h, --help              this help\n";


static const char  smile_cli_spool_purge_help[] =
"Deletes records: prints them, asks on the terminal (y to delete), and\n"
"prints each one deleted.  The records of PATH are events not delivered\n"
"yet: a warning says they are lost.  A record being replayed at that\n"
"moment may still reach the app.\n"
"\n"
"Options:\n"
"  --dead                  the records of PATH/dead: all of them, or\n"
"                          those of the IDs given\n"
"  --all-dead              every record of PATH/dead\n"
"  --all                   every record, of PATH and of PATH/dead\n"
"  --yes                   do not ask\n"
"  -h, --help              this help\n";


static const char  smile_cli_help_help[] =
"Prints the help of COMMAND (of a spool command: help spool list), or of\n"
"every command.\n";


static const struct option  smile_cli_sign_options[] = {
    { "secret-file", required_argument, NULL, SMILE_CLI_OPT_SECRET_FILE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_verify_options[] = {
    { "signature", required_argument, NULL, SMILE_CLI_OPT_SIGNATURE },
    { "secret-file", required_argument, NULL, SMILE_CLI_OPT_SECRET_FILE },
    { "events", required_argument, NULL, SMILE_CLI_OPT_EVENTS },
    { "max-age", required_argument, NULL, SMILE_CLI_OPT_MAX_AGE },
    { "skew", required_argument, NULL, SMILE_CLI_OPT_SKEW },
    { "now", required_argument, NULL, SMILE_CLI_OPT_NOW },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_send_options[] = {
    { "all", no_argument, NULL, SMILE_CLI_OPT_ALL },
    { "type", required_argument, NULL, SMILE_CLI_OPT_TYPE },
    { "fresh", no_argument, NULL, SMILE_CLI_OPT_FRESH },
    { "secret-file", required_argument, NULL, SMILE_CLI_OPT_SECRET_FILE },
    { "signature-header", required_argument, NULL, SMILE_CLI_OPT_HEADER },
    { "timeout", required_argument, NULL, SMILE_CLI_OPT_TIMEOUT },
    { "cacert", required_argument, NULL, SMILE_CLI_OPT_CACERT },
    { "insecure", no_argument, NULL, SMILE_CLI_OPT_INSECURE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_examples_options[] = {
    { "fresh", no_argument, NULL, SMILE_CLI_OPT_FRESH },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_spool_list_options[] = {
    { "dead", no_argument, NULL, SMILE_CLI_OPT_DEAD },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_spool_show_options[] = {
    { "body", no_argument, NULL, SMILE_CLI_OPT_BODY },
    { "signature", no_argument, NULL, SMILE_CLI_OPT_SIGNATURE },
    { "headers", no_argument, NULL, SMILE_CLI_OPT_HEADERS },
    { "signature-header", required_argument, NULL, SMILE_CLI_OPT_HEADER },
    { "dead", no_argument, NULL, SMILE_CLI_OPT_DEAD },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_spool_requeue_options[] = {
    { "dead", no_argument, NULL, SMILE_CLI_OPT_DEAD },
    { "all-dead", no_argument, NULL, SMILE_CLI_OPT_ALL_DEAD },
    { "all", no_argument, NULL, SMILE_CLI_OPT_ALL },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_spool_purge_options[] = {
    { "dead", no_argument, NULL, SMILE_CLI_OPT_DEAD },
    { "all-dead", no_argument, NULL, SMILE_CLI_OPT_ALL_DEAD },
    { "all", no_argument, NULL, SMILE_CLI_OPT_ALL },
    { "yes", no_argument, NULL, SMILE_CLI_OPT_YES },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const struct option  smile_cli_help_options[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const smile_cli_command_t  smile_cli_spool_commands[] = {

    { "spool list", smile_cli_spool_list, smile_cli_spool_list_options,
      "spool list [--dead] PATH",
      smile_cli_spool_list_help, NULL },

    { "spool show", smile_cli_spool_show, smile_cli_spool_show_options,
      "spool show [--body] [--signature] [--headers]\n"
      "       [--signature-header NAME] [--dead] PATH (ID | FILE)...",
      smile_cli_spool_show_help, NULL },

    { "spool requeue", smile_cli_spool_requeue,
      smile_cli_spool_requeue_options,
      "spool requeue PATH ((ID | FILE)... | --dead | --all-dead | --all)",
      smile_cli_spool_requeue_help, NULL },

    { "spool purge", smile_cli_spool_purge, smile_cli_spool_purge_options,
      "spool purge [--yes] PATH ((ID | FILE)... | --dead | --all-dead |\n"
      "       --all)",
      smile_cli_spool_purge_help, NULL },

    { NULL, NULL, NULL, NULL, NULL, NULL }
};


/* the commands; "spool" has its own */

const smile_cli_command_t  smile_cli_commands[] = {

    { "sign", smile_cli_sign, smile_cli_sign_options,
      "sign [--secret-file FILE] [FILE]",
      smile_cli_sign_help, NULL },

    { "verify", smile_cli_verify, smile_cli_verify_options,
      "verify [--signature HEX] [--secret-file FILE] [--events TYPE,...]\n"
      "       [--max-age TIME [--skew TIME]] [--now TIME] [FILE]",
      smile_cli_verify_help, NULL },

    { "send", smile_cli_send, smile_cli_send_options,
      "send URL (--all | --type TYPE... | FILE...) [--fresh]\n"
      "       [--secret-file FILE] [--signature-header NAME]\n"
      "       [--timeout SECONDS] [--cacert FILE] [--insecure]",
      smile_cli_send_help, NULL },

    { "examples", smile_cli_examples_cmd, smile_cli_examples_options,
      "examples [--fresh] [TYPE]",
      smile_cli_examples_help, NULL },

    { "spool", NULL, NULL,
      "spool (list | show | requeue | purge) [OPTION]... PATH [ID | FILE]...",
      smile_cli_spool_help, smile_cli_spool_commands },

    { "help", smile_cli_help_cmd, smile_cli_help_options,
      "help [COMMAND [SUBCOMMAND]]",
      smile_cli_help_help, NULL },

    { NULL, NULL, NULL, NULL, NULL, NULL }
};


int
main(int argc, char **argv)
{
    int                         rc;
    const smile_cli_command_t  *cmd;

    if (argc < 2) {
        fprintf(stderr, SMILE_CLI_NAME ": no command\n"
                "Usage: " SMILE_CLI_NAME " COMMAND [OPTION]... [ARGUMENT]...\n"
                "Try \"" SMILE_CLI_NAME " --help\".\n");
        return SMILE_CLI_USAGE;
    }

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        smile_cli_help_all();
        return SMILE_CLI_OK;
    }

    if (strcmp(argv[1], "--version") == 0) {
        printf(SMILE_CLI_NAME " " SMILE_CLI_VERSION
               " (yajl %d, %s, libcurl %s)\n",
               YAJL_VERSION, OPENSSL_VERSION_TEXT, LIBCURL_VERSION);
        return SMILE_CLI_OK;
    }

    cmd = smile_cli_find(smile_cli_commands, argv[1]);

    if (cmd == NULL) {
        smile_cli_error("unknown command \"%s\"; try \"" SMILE_CLI_NAME
                        " --help\"", argv[1]);
        return SMILE_CLI_USAGE;
    }

    if (cmd->commands) {
        rc = smile_cli_group(cmd, argc - 1, argv + 1);

        if (rc != SMILE_CLI_OK) {
            return rc == -1 ? SMILE_CLI_OK : rc;
        }

        cmd = smile_cli_find(cmd->commands, argv[2]);
        argc--;
        argv++;
    }

    /* the handler sees its own name as argv[0], as getopt_long() wants */

    rc = smile_cli_options(cmd, argc - 1, argv + 1);

    if (rc == SMILE_CLI_OK) {
        rc = cmd->handler(cmd, argc - 1, argv + 1);

    } else if (rc == -1) {
        rc = smile_cli_help(cmd);
    }

    smile_exit();

    if (fflush(stdout) != 0 || ferror(stdout)) {
        smile_cli_error("cannot write the output");
        return SMILE_CLI_FAILURE;
    }

    return rc;
}


/* a command of the table by name; "list" finds "spool list" in its own */

static const smile_cli_command_t *
smile_cli_find(const smile_cli_command_t *table, const char *name)
{
    const char                 *p;
    const smile_cli_command_t  *cmd;

    for (cmd = table; cmd->name; cmd++) {
        p = strchr(cmd->name, ' ');
        p = p ? p + 1 : cmd->name;

        if (strcmp(p, name) == 0) {
            return cmd;
        }
    }

    return NULL;
}


/*
 * "spool" and what follows: SMILE_CLI_OK when argv[1] names one of its
 * commands, -1 when its help was printed, or an exit code.
 */

static int
smile_cli_group(const smile_cli_command_t *group, int argc, char **argv)
{
    if (argc < 2) {
        return smile_cli_usage(group, "no command");
    }

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        smile_cli_help(group);
        return -1;
    }

    if (smile_cli_find(group->commands, argv[1]) == NULL) {
        return smile_cli_usage(group, "unknown command \"%s\"", argv[1]);
    }

    return SMILE_CLI_OK;
}


static int
smile_cli_help_cmd(const smile_cli_command_t *cmd, int argc, char **argv)
{
    const smile_cli_command_t  *c;

    if (argc > 3) {
        return smile_cli_usage(cmd, "too many arguments");
    }

    if (argc >= 2) {
        c = smile_cli_find(smile_cli_commands, argv[1]);
        if (c == NULL) {
            return smile_cli_usage(cmd, "unknown command \"%s\"", argv[1]);
        }

        if (argc == 3) {
            c = c->commands ? smile_cli_find(c->commands, argv[2]) : NULL;
            if (c == NULL) {
                return smile_cli_usage(cmd, "unknown command \"%s %s\"",
                                       argv[1], argv[2]);
            }
        }

        return smile_cli_help(c);
    }

    smile_cli_help_all();

    return SMILE_CLI_OK;
}


static void
smile_cli_help_all(void)
{
    const smile_cli_command_t  *cmd, *sub;

    fputs(smile_cli_intro, stdout);

    for (cmd = smile_cli_commands; cmd->name; cmd++) {
        if (cmd->commands == NULL) {
            printf("  " SMILE_CLI_NAME " %s\n", cmd->synopsis);
            continue;
        }

        for (sub = cmd->commands; sub->name; sub++) {
            printf("  " SMILE_CLI_NAME " %s\n", sub->synopsis);
        }
    }

    printf("\n%s", smile_cli_common);

    for (cmd = smile_cli_commands; cmd->name; cmd++) {
        printf("\n%s\n\n", cmd->name);
        smile_cli_help(cmd);
    }
}


/* a command's usage and help; a group's, then each of its commands' */

int
smile_cli_help(const smile_cli_command_t *cmd)
{
    const smile_cli_command_t  *sub;

    printf("Usage: " SMILE_CLI_NAME " %s\n\n%s", cmd->synopsis, cmd->help);

    for (sub = cmd->commands; sub && sub->name; sub++) {
        printf("\n%s\n\nUsage: " SMILE_CLI_NAME " %s\n\n%s", sub->name,
               sub->synopsis, sub->help);
    }

    return SMILE_CLI_OK;
}


void
smile_cli_error(const char *fmt, ...)
{
    va_list  args;

    fflush(stdout);

    fputs(SMILE_CLI_NAME ": ", stderr);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputc('\n', stderr);
}


/*
 * getopt_long() takes "--secret" for "--secret-file", and shows what it
 * does not know.  Options are checked here first: spelled out, known, with
 * their values; an error names the option only, never a value.  Returns
 * SMILE_CLI_OK, an exit code, or -1 when -h or --help was given.
 */

static int
smile_cli_options(const smile_cli_command_t *cmd, int argc, char **argv)
{
    int                   i;
    size_t                len;
    const char           *a;
    const struct option  *o;

    for (i = 1; i < argc; i++) {
        a = argv[i];

        if (strcmp(a, "--") == 0) {
            break;
        }

        if (a[0] != '-' || a[1] == '\0') {
            continue;
        }

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            return -1;
        }

        if (a[1] != '-') {
            return smile_cli_usage(cmd, "unknown option \"-%c\"", a[1]);
        }

        len = strcspn(a + 2, "=");

        for (o = cmd->options; o->name; o++) {
            if (strlen(o->name) == len && strncmp(o->name, a + 2, len) == 0) {
                break;
            }
        }

        if (o->name == NULL) {
            return smile_cli_usage(cmd, "unknown option \"%.*s\"",
                                   (int) (len + 2), a);
        }

        if (o->has_arg == no_argument && a[len + 2] == '=') {
            return smile_cli_usage(cmd, "option \"--%s\" takes no value",
                                   o->name);
        }

        if (o->has_arg == required_argument && a[len + 2] == '\0') {
            if (++i == argc) {
                return smile_cli_usage(cmd, "option \"--%s\" needs a value",
                                       o->name);
            }
        }
    }

    opterr = 0;
    optind = 1;

    return SMILE_CLI_OK;
}


int
smile_cli_usage(const smile_cli_command_t *cmd, const char *fmt, ...)
{
    va_list  args;

    fflush(stdout);

    fprintf(stderr, SMILE_CLI_NAME " %s: ", cmd->name);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\nUsage: " SMILE_CLI_NAME " %s\n"
            "Try \"" SMILE_CLI_NAME " %s --help\".\n",
            cmd->synopsis, cmd->name);

    return SMILE_CLI_USAGE;
}
