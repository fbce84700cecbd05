"""Session-file folders (DeepLog layout) of a tiny synthetic OpenStack-like system."""

from __future__ import annotations


def _session_folder(tmp_path, with_templates=True):
    (tmp_path / "openstack_train").write_text("a,1 2 3\nb,1 2 3\n", encoding="utf-8")
    (tmp_path / "openstack_test_normal").write_text("".join(f"n{i},1 2 3\n" for i in range(20)), encoding="utf-8")
    (tmp_path / "openstack_test_abnormal").write_text("".join(f"x{i},1 4\n" for i in range(10)), encoding="utf-8")
    if with_templates:
        (tmp_path / "OpenStack_templates.csv").write_text("start <*>\nclaim <*>\nstop\nerror <*>\n", encoding="utf-8")
    return tmp_path
