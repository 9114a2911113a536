import unittest

from training.lors_studio.runlog import join_stretches


def stretch(epochs, steps_per_epoch, best_epoch, init):
    log = [{'type': 'start', 'args': {}}]
    first = 0 if init else 1
    for e in range(first, epochs + 1):
        if e > 0:
            log.append({'type': 'step', 'step': e * steps_per_epoch, 'epoch': float(e), 'loss': 1.0 / e})
        log.append({'type': 'epoch', 'epoch': e, 'step': e * steps_per_epoch, 'holdout': {'AP': 20.0 + e}})
    return log, {'steps': epochs * steps_per_epoch, 'wall_s': 10.0, 'best_epoch': best_epoch, 'best': 20.0 + best_epoch}


class JoinStretchesTest(unittest.TestCase):
    def test_later_stretches_count_on_and_lose_their_epoch_zero(self):
        (a, sa), (b, sb) = stretch(3, 5, 3, init=True), stretch(2, 5, 1, init=True)
        rows, summary = join_stretches([a, b], [sa, sb])
        epochs = [(r['epoch'], r['step'], r['stretch']) for r in rows if r['type'] == 'epoch']
        self.assertEqual(epochs, [(0, 0, 0), (1, 5, 0), (2, 10, 0), (3, 15, 0), (4, 20, 1), (5, 25, 1)])
        self.assertEqual([r['step'] for r in rows if r['type'] == 'step'], [5, 10, 15, 20, 25])
        self.assertEqual((summary['steps'], summary['wall_s'], summary['best_epoch']), (25, 20.0, 3))
        self.assertEqual(summary['best_stretch'], 0)  # stretch 1's best (AP 21 at its epoch 1) is below stretch 0's
        sb['best'] = 30.0  # now stretch 1's epoch 1 is the best of all
        self.assertEqual(join_stretches([a, b], [sa, sb])[1]['best_epoch'], 4)
        self.assertEqual(summary['stretches'], 2)
        self.assertEqual(a[1]['epoch'], 0)  # the inputs are not modified

    def test_one_stretch_is_itself(self):
        a, sa = stretch(2, 4, 2, init=False)
        rows, summary = join_stretches([a], [sa])
        self.assertEqual([{k: v for k, v in r.items() if k != 'stretch'} for r in rows], a)
        self.assertEqual(summary['best_epoch'], 2)


if __name__ == '__main__':
    unittest.main()
