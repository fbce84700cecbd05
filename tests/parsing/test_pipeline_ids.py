"""The pipeline consumes the final (resolved) id of each line, whatever merges happen later."""

from logad.parsing.skeleton import SkeletonParser
from logad.pipeline import Grouping, load_logs

LINES = [
    "session opened for user alice by sshd",
    "disk sda1 is full",
    "session opened for user bob by sshd",
    "session opened for user carol by sshd",
    "session opened for user dave by sshd",  # 4 distinct users (min_distinct=4): merge mid-stream
    "session opened for user bob by sshd",
    "disk sda2 is full",
]


def _ids(tmp_path, parser=None, learn=True):
    log = tmp_path / "auth.log"
    log.write_text("\n".join(LINES) + "\n")
    loaded = load_logs([log], format="<Content>", grouping=Grouping(kind="count", size=1), parser=parser,
                       learn=learn)
    return [s.template_ids[0] for s in loaded.sequences], loaded


def test_lines_before_and_after_a_merge_get_the_same_id(tmp_path):
    ids, loaded = _ids(tmp_path)
    p = loaded.parser
    assert isinstance(p, SkeletonParser) and p._alias  # a merge really happened mid-stream
    user = {ids[i] for i in (0, 2, 3, 4, 5)}
    assert len(user) == 1 and ids[1] == ids[6] and ids[1] not in user
    assert all(t in p.live_templates for t in ids)  # no alias reaches the windows
    assert set(loaded.templates) == set(p.live_templates)


def test_detection_matches_with_resolved_ids(tmp_path):
    _, loaded = _ids(tmp_path)
    trained = loaded.parser
    before = trained.to_dict()
    ids, _ = _ids(tmp_path, parser=trained, learn=False)
    assert trained.to_dict() == before  # match never mutates
    train_ids, _ = _ids(tmp_path)
    assert ids == train_ids and all(t in trained.live_templates for t in ids)
