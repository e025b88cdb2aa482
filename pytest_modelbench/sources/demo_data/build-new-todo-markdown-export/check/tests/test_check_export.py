from todo import Task, TaskStore
from todo.cli import main


def sample_store() -> TaskStore:
    store = TaskStore()
    store.add("Buy milk")
    store.add("File taxes", ["home", "urgent"])
    store.complete(1)
    return store


def test_existing_list_command(capsys):
    main(["list"], sample_store())
    assert capsys.readouterr().out == "1. done Buy milk\n2. todo File taxes\n"


def test_to_markdown_checklist():
    from todo.export import to_markdown

    tasks = [Task(1, "Buy milk", done=True), Task(2, "Call mum")]
    assert to_markdown(tasks) == "- [x] Buy milk\n- [ ] Call mum"


def test_to_markdown_tags_and_empty():
    from todo.export import to_markdown

    assert to_markdown([Task(3, "File taxes", tags=["home", "urgent"])]) == "- [ ] File taxes #home #urgent"
    assert to_markdown([]) == ""


def test_cli_export(capsys):
    assert main(["export"], sample_store()) == 0
    assert capsys.readouterr().out == "- [x] Buy milk\n- [ ] File taxes #home #urgent\n"


def test_cli_export_pending_only(capsys):
    main(["export", "--pending"], sample_store())
    assert capsys.readouterr().out == "- [ ] File taxes #home #urgent\n"
