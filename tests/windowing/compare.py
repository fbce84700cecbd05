"""Comparing lists of sequences exactly: sorted by (first line number, sequence id), every field,
NaN equal to NaN in line_values."""


def canonical(seqs) -> list[tuple]:
    def key(s):
        values = None if s.line_values is None else tuple(
            tuple("nan" if v != v else v for v in row) for row in s.line_values
        )
        return (s.line_nos[0], s.sequence_id, s.template_ids, s.line_nos, s.start_time, s.end_time,
                s.line_labels, s.label, s.entity, values)

    return sorted(map(key, seqs))
