"""`logad data list | info | fetch`: the public datasets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from logad.errors import InvalidParameterError


def add_parser(sub) -> None:
    da = sub.add_parser("data", help="public datasets: list, info, fetch")
    dsub = da.add_subparsers(dest="data_cmd", required=True, metavar="ACTION")
    dsub.add_parser("list", help="list registered datasets")
    di = dsub.add_parser("info", help="show a dataset's sources, checksums and layout")
    di.add_argument("name")
    dfe = dsub.add_parser("fetch", help="download, verify and unpack a dataset")
    dfe.add_argument("name")
    dfe.add_argument("--dest", help="target folder (default ~/.cache/logad/NAME)")
    dfe.add_argument("--allow-unverified", action="store_true", help="accept files without a published checksum")
    dfe.add_argument("--base-url", help=argparse.SUPPRESS)  # mirrors and tests
    dfe.add_argument("--quiet", action="store_true", help="no progress bar")
    da.set_defaults(func=cmd_data)


def cmd_data(args) -> int:
    from logad.datasets.registry import get_dataset, list_datasets

    if args.data_cmd == "list":
        for name in list_datasets():
            info = get_dataset(name)
            print(f"{name:28s} {info.kind:9s} {info.description}")
        return 0
    if args.data_cmd == "info":
        info = get_dataset(args.name)
        print(json.dumps(info.as_dict() if hasattr(info, "as_dict") else dataclass_dict(info), indent=2, default=str))
        return 0
    if args.data_cmd == "fetch":
        from logad.datasets.fetch import fetch
        from logad.progress import Progress

        dest = Path(args.dest or Path.home() / ".cache" / "logad" / args.name)
        progress = Progress(enabled=not args.quiet)
        path = fetch(args.name, dest, allow_unverified=args.allow_unverified, base_url_override=args.base_url,
                     progress=progress.callback(f"downloading {args.name}", unit="B"))
        progress.close()
        print(f"{args.name}: ready in {path}")
        return 0
    raise InvalidParameterError(f"unknown data command {args.data_cmd!r}")


def dataclass_dict(obj) -> dict:
    import dataclasses

    return dataclasses.asdict(obj)
