from syncer import sync


def test_sync_copies_new_files(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("hello")
    assert sync(src, dst) == 1
    assert (dst / "sub" / "a.txt").read_text() == "hello"
    assert sync(src, dst) == 0
