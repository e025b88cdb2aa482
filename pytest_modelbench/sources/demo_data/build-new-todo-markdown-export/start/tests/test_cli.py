from todo import TaskStore
from todo.cli import main


def test_add_and_list(capsys):
    store = TaskStore()
    main(["add", "Buy milk"], store)
    main(["done", "1"], store)
    main(["list"], store)
    assert capsys.readouterr().out == "1\n1. done Buy milk\n"
