"""What the logic tests share: the test volume's shape, fast settings, and one Segment call."""
FAST = {"iterations": 2, "alternations": 1}  # keep CPU time small; quality is not tested here
SHAPE = (20, 40, 40)


def segment(logic, volume, roi, output=None, segment_id="", model=None):
    return logic.segment(volume, roi, output, segment_id, model_path=str(model), settings=FAST)
