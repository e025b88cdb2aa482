"""Command line interface: ``todo add|done|list|export``."""
from __future__ import annotations

import argparse

from todo.export import to_markdown
from todo.store import TaskStore


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a task")
    add.add_argument("title")
    add.add_argument("--tag", action="append", default=[])
    done = sub.add_parser("done", help="mark a task as done")
    done.add_argument("id", type=int)
    sub.add_parser("list", help="list tasks")
    export = sub.add_parser("export", help="print tasks as a Markdown checklist")
    export.add_argument("--pending", action="store_true", help="omit completed tasks")
    return parser


def main(argv: list[str], store: TaskStore) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "add":
        print(store.add(args.title, args.tag).id)
    elif args.command == "done":
        store.complete(args.id)
    elif args.command == "list":
        for task in store.all():
            print(f"{task.id}. {'done' if task.done else 'todo'} {task.title}")
    elif args.command == "export":
        tasks = [t for t in store.all() if not (args.pending and t.done)]
        print(to_markdown(tasks))
    return 0
