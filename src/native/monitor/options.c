/* Command-line parsing for tspod-monitor. The flags are listed in main.c's contract comment. */
#include "monitor.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  OPT_CID = 256,
  OPT_BUNDLE,
  OPT_RUNTIME,
  OPT_RUNTIME_ARG,
  OPT_LOG_PATH,
  OPT_LOG_DRIVER,
  OPT_LOG_SIZE_MAX,
  OPT_EXIT_DIR,
  OPT_SOCKET_DIR,
  OPT_TERMINAL,
  OPT_STDIN,
  OPT_LEAVE_STDIN_OPEN,
  OPT_EXIT_COMMAND,
  OPT_EXIT_COMMAND_ARG,
  OPT_PIDFILE,
  OPT_CONTAINER_PIDFILE,
  OPT_EXEC,
  OPT_EXEC_PROCESS_SPEC,
  OPT_EXEC_ATTACH,
  OPT_START,
  OPT_NET_HELPER,
  OPT_NET_HELPER_ARG,
  OPT_NETNS_PATH,
  OPT_PORT_HELPER,
  OPT_NET_HELPER_PORTS,
  OPT_PORT_HELPER_ARG,
  OPT_NETNS_CREATE,
};

static const struct option long_options[] = {
  {"cid", required_argument, NULL, OPT_CID},
  {"bundle", required_argument, NULL, OPT_BUNDLE},
  {"runtime", required_argument, NULL, OPT_RUNTIME},
  {"runtime-arg", required_argument, NULL, OPT_RUNTIME_ARG},
  {"log-path", required_argument, NULL, OPT_LOG_PATH},
  {"log-driver", required_argument, NULL, OPT_LOG_DRIVER},
  {"log-size-max", required_argument, NULL, OPT_LOG_SIZE_MAX},
  {"exit-dir", required_argument, NULL, OPT_EXIT_DIR},
  {"socket-dir", required_argument, NULL, OPT_SOCKET_DIR},
  {"terminal", no_argument, NULL, OPT_TERMINAL},
  {"stdin", no_argument, NULL, OPT_STDIN},
  {"leave-stdin-open", no_argument, NULL, OPT_LEAVE_STDIN_OPEN},
  {"exit-command", required_argument, NULL, OPT_EXIT_COMMAND},
  {"exit-command-arg", required_argument, NULL, OPT_EXIT_COMMAND_ARG},
  {"pidfile", required_argument, NULL, OPT_PIDFILE},
  {"container-pidfile", required_argument, NULL, OPT_CONTAINER_PIDFILE},
  {"exec", no_argument, NULL, OPT_EXEC},
  {"exec-process-spec", required_argument, NULL, OPT_EXEC_PROCESS_SPEC},
  {"exec-attach", no_argument, NULL, OPT_EXEC_ATTACH},
  {"start", no_argument, NULL, OPT_START},
  {"net-helper", required_argument, NULL, OPT_NET_HELPER},
  {"net-helper-arg", required_argument, NULL, OPT_NET_HELPER_ARG},
  {"netns-path", required_argument, NULL, OPT_NETNS_PATH},
  {"port-helper", required_argument, NULL, OPT_PORT_HELPER},
  {"net-helper-ports", no_argument, NULL, OPT_NET_HELPER_PORTS},
  {"port-helper-arg", required_argument, NULL, OPT_PORT_HELPER_ARG},
  {"netns-create", no_argument, NULL, OPT_NETNS_CREATE},
  {NULL, 0, NULL, 0},
};

static int require_absolute(const char *flag, const char *value, tspod_error_t *err)
{
  if (value != NULL && value[0] != '/')
    return tspod_make_error(err, 0, "--%s must be an absolute path, got `%s`", flag, value);
  return 0;
}

static int require(const char *flag, const char *value, tspod_error_t *err)
{
  if (value == NULL || value[0] == '\0') return tspod_make_error(err, 0, "missing --%s", flag);
  return require_absolute(flag, value, err);
}

int parse_options(int argc, char **argv, struct monitor_opts *o, tspod_error_t *err)
{
  size_t n_rargs = 0, n_eargs = 0, n_nargs = 0, n_pargs = 0;
  int c;

  memset(o, 0, sizeof(*o));
  o->log_driver = LOG_DRIVER_K8S_FILE;
  /* argc bounds both lists; they are never freed (the process execs or exits). */
  o->runtime_args = calloc((size_t) argc + 1, sizeof(char *));
  o->exit_command_args = calloc((size_t) argc + 1, sizeof(char *));
  o->net_helper_args = calloc((size_t) argc + 1, sizeof(char *));
  o->port_helper_args = calloc((size_t) argc + 1, sizeof(char *));
  if (o->runtime_args == NULL || o->exit_command_args == NULL || o->net_helper_args == NULL || o->port_helper_args == NULL)
    return tspod_make_error(err, errno, "allocate argument lists");

  opterr = 0;
  while ((c = getopt_long(argc, argv, "+", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_CID: o->cid = optarg; break;
    case OPT_BUNDLE: o->bundle = optarg; break;
    case OPT_RUNTIME: o->runtime = optarg; break;
    case OPT_RUNTIME_ARG: o->runtime_args[n_rargs++] = optarg; break;
    case OPT_LOG_PATH: o->log_path = optarg; break;
    case OPT_LOG_DRIVER:
      if (strcmp(optarg, "k8s-file") == 0)
        o->log_driver = LOG_DRIVER_K8S_FILE;
      else if (strcmp(optarg, "none") == 0)
        o->log_driver = LOG_DRIVER_NONE;
      else if (strcmp(optarg, "passthrough") == 0)
        o->log_driver = LOG_DRIVER_PASSTHROUGH;
      else
        return tspod_make_error(err, 0, "unknown --log-driver `%s` (k8s-file, none, passthrough)", optarg);
      break;
    case OPT_LOG_SIZE_MAX: {
      char *end = NULL;
      errno = 0;
      o->log_size_max = strtoll(optarg, &end, 10);
      if (errno != 0 || end == optarg || *end != '\0')
        return tspod_make_error(err, 0, "invalid --log-size-max `%s`", optarg);
      break;
    }
    case OPT_EXIT_DIR: o->exit_dir = optarg; break;
    case OPT_SOCKET_DIR: o->socket_dir = optarg; break;
    case OPT_TERMINAL: o->terminal = true; break;
    case OPT_STDIN: o->stdin_ = true; break;
    case OPT_LEAVE_STDIN_OPEN: o->leave_stdin_open = true; break;
    case OPT_EXIT_COMMAND: o->exit_command = optarg; break;
    case OPT_EXIT_COMMAND_ARG: o->exit_command_args[n_eargs++] = optarg; break;
    case OPT_PIDFILE: o->pidfile = optarg; break;
    case OPT_CONTAINER_PIDFILE: o->container_pidfile = optarg; break;
    case OPT_EXEC: o->exec = true; break;
    case OPT_EXEC_PROCESS_SPEC: o->exec_process_spec = optarg; break;
    case OPT_EXEC_ATTACH: o->exec_attach = true; break;
    case OPT_START: o->start = true; break;
    case OPT_NET_HELPER: o->net_helper = optarg; break;
    case OPT_NET_HELPER_ARG: o->net_helper_args[n_nargs++] = optarg; break;
    case OPT_NETNS_PATH: o->netns_path = optarg; break;
    case OPT_PORT_HELPER: o->port_helper = optarg; break;
    case OPT_PORT_HELPER_ARG: o->port_helper_args[n_pargs++] = optarg; break;
    case OPT_NETNS_CREATE: o->netns_create = true; break;
    case OPT_NET_HELPER_PORTS: o->net_helper_ports = true; break;
    case '?':
    default:
      if (optopt != 0) return tspod_make_error(err, 0, "option requires an argument or is unknown: %s", argv[optind - 1]);
      return tspod_make_error(err, 0, "unknown option `%s`", argv[optind - 1]);
    }
  }
  if (optind < argc) return tspod_make_error(err, 0, "unexpected argument `%s`", argv[optind]);

  if (o->cid == NULL || o->cid[0] == '\0') return tspod_make_error(err, 0, "missing --cid");
  if (strchr(o->cid, '/') != NULL || strcmp(o->cid, ".") == 0 || strcmp(o->cid, "..") == 0)
    return tspod_make_error(err, 0, "invalid --cid `%s`", o->cid);
  if (o->runtime == NULL || o->runtime[0] == '\0') return tspod_make_error(err, 0, "missing --runtime");
  if (require("bundle", o->bundle, err) < 0 || require("exit-dir", o->exit_dir, err) < 0 ||
      require("socket-dir", o->socket_dir, err) < 0 || require_absolute("pidfile", o->pidfile, err) < 0 ||
      require_absolute("container-pidfile", o->container_pidfile, err) < 0 ||
      require_absolute("exec-process-spec", o->exec_process_spec, err) < 0)
    return -1;
  if (o->log_driver == LOG_DRIVER_K8S_FILE && require("log-path", o->log_path, err) < 0) return -1;
  if (o->log_driver == LOG_DRIVER_PASSTHROUGH && o->terminal)
    return tspod_make_error(err, 0, "--log-driver passthrough cannot be used with --terminal");
  if (o->exec && o->exec_process_spec == NULL) return tspod_make_error(err, 0, "--exec needs --exec-process-spec");
  if (o->exec && o->start) return tspod_make_error(err, 0, "--start cannot be used with --exec");
  if (o->net_helper != NULL && (o->exec || (o->start && !o->netns_create)))
    return tspod_make_error(err, 0, "--net-helper cannot be used with --exec, or --start without --netns-create");
  if (o->netns_create && (o->net_helper == NULL || o->netns_path == NULL))
    return tspod_make_error(err, 0, "--netns-create needs --net-helper and --netns-path");
  if ((o->net_helper_args[0] != NULL || o->netns_path != NULL) && o->net_helper == NULL)
    return tspod_make_error(err, 0, "--net-helper-arg and --netns-path need --net-helper");
  if ((o->port_helper != NULL || o->port_helper_args[0] != NULL) && o->net_helper == NULL)
    return tspod_make_error(err, 0, "--port-helper and --port-helper-arg need --net-helper");
  if (require_absolute("netns-path", o->netns_path, err) < 0) return -1;
  if (!o->exec && (o->exec_process_spec != NULL || o->exec_attach))
    return tspod_make_error(err, 0, "--exec-process-spec and --exec-attach need --exec");
  if (n_eargs > 0 && o->exit_command == NULL)
    return tspod_make_error(err, 0, "--exit-command-arg needs --exit-command");

  if (o->container_pidfile == NULL) {
    char *p = NULL;
    if (asprintf(&p, "%s/%s", o->socket_dir, o->exec ? "exec.pid" : "container.pid") < 0)
      return tspod_make_error(err, errno, "allocate");
    o->container_pidfile = p;
  }
  return 0;
}
