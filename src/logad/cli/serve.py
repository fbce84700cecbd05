"""`logad serve`: detect anomalies in live logs with a model `logad train` saved (extra `serve`)."""

from __future__ import annotations

import logging

from logad.cli.config import add_config_arg


def add_parser(sub) -> None:
    from logad.service.config import ServeConfig

    d = ServeConfig(model="", state_dir="")
    p = sub.add_parser("serve", help="online detection over HTTP, followed files or stdin, with a trained model",
                       description="Serve a trained model online: POST raw lines to /v1/lines (text/plain or "
                                   "application/x-ndjson), read alarms at /v1/alarms, metrics at /metrics, "
                                   "and watch it live in a browser at / (the dashboard).")
    p.add_argument("--model", metavar="DIR", help="model folder written by `logad train --save` (required)")
    p.add_argument("--state-dir", metavar="DIR",
                   help="journal, checkpoint and alarms (required; refused when made by another model)")
    p.add_argument("--host", default=d.host, help="address to listen on (default 127.0.0.1; another needs --token-file)")
    p.add_argument("--port", type=int, default=d.port, help=f"port (default {d.port}; 0 = any free port)")
    p.add_argument("--token-file", metavar="FILE", help="bearer token every request must carry (all but /healthz)")
    p.add_argument("--tail", nargs="+", metavar="FILE", help="follow these files (rotation and truncation handled)")
    p.add_argument("--stdin", action="store_true", help="read lines from standard input; flush and stop at its end")
    p.add_argument("--webhook", action="append", metavar="URL", help="POST each alarm as JSON here (repeatable)")
    p.add_argument("--alertmanager", action="append", metavar="URL", help="send alarms to this Alertmanager's API")
    p.add_argument("--alertmanager-webhook", action="append", metavar="URL",
                   help="POST alarms in the JSON Alertmanager sends its webhook receivers")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes, help="larger requests get 413")
    p.add_argument("--max-queue-lines", type=int, default=d.max_queue_lines,
                   help="lines accepted but not yet processed before requests get 429")
    p.add_argument("--checkpoint-seconds", type=float, default=d.checkpoint_seconds)
    p.add_argument("--checkpoint-lines", type=int, default=d.checkpoint_lines)
    p.add_argument("--max-alarm-lines", type=int, default=d.max_alarm_lines, help="lines shown in one alarm")
    p.add_argument("--on-error", choices=["reject", "skip"], default=d.on_error,
                   help="a request with lines not in the model's format: reject it whole (422) or skip those lines")
    p.add_argument("--shard", metavar="I/N", help="serve only the sources of shard I of N (several instances)")
    p.add_argument("--sink-attempts", type=int, default=d.sink_attempts)
    p.add_argument("--access-log", action="store_true", help="log every HTTP request")
    p.add_argument("--no-dashboard", action="store_true",
                   help="no live dashboard at GET / (the JSON API and /metrics only)")
    p.add_argument("--quiet", action="store_true", help="log warnings only")
    add_config_arg(p)
    p.set_defaults(func=cmd_serve)


def config_from_args(args):
    from logad.service.config import ServeConfig

    return ServeConfig(
        model=args.model or "", state_dir=args.state_dir or "", host=args.host, port=args.port,
        token_file=args.token_file, tail=tuple(args.tail or ()), stdin=args.stdin,
        webhook=tuple(args.webhook or ()), alertmanager=tuple(args.alertmanager or ()),
        alertmanager_webhook=tuple(args.alertmanager_webhook or ()),
        max_body_bytes=args.max_body_bytes, max_queue_lines=args.max_queue_lines,
        checkpoint_seconds=args.checkpoint_seconds, checkpoint_lines=args.checkpoint_lines,
        max_alarm_lines=args.max_alarm_lines, on_error=args.on_error, shard=args.shard,
        sink_attempts=args.sink_attempts, access_log=args.access_log, dashboard=not args.no_dashboard,
    ).validated()


def cmd_serve(args) -> int:
    from logad.service.server import serve

    config = config_from_args(args)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.debug else logging.INFO)
    for name in ("logad.service", "uvicorn.error"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if args.access_log else logging.WARNING)
    return serve(config)
