#!/usr/bin/env python3
"""How well the hand-written rules predict the class of the next burst,
offline, on samples recorded with `scx_arbor --record` (the CSV's `actual`
column: the class of the burst that followed, from the kernel's own
account of its CPU time).

Rules, each on one feature of the sample, bucketed at the class bounds
(250 us, 1 ms, 4 ms):
  ewma  the class of the task's average burst (ewma_burst_us): the rule of
        `scx_arbor --heuristic` and of the published schedulers
  last  the class of the task's last burst (last_burst_us)
Only wakeup decisions (point 0) are scored: the decision both rules and a
model make. Prints, per rule, the confusion matrix, accuracy, balanced
accuracy (the mean of per-class recalls, over classes present) and the
recall of each class; with --model-report FILE, the held-out figures that
`scx_arbor model train` printed for a model trained on the same CSV
(another split of the same rows: a model is scored on rows it did not
see, a rule sees no rows).

Usage: benches/offline-rules.py CSV [--model-report FILE]
"""
import csv
import sys

BOUNDS = (250, 1000, 4000)
NAMES = ('tiny', 'short', 'medium', 'long')


def class_of(us):
    for i, b in enumerate(BOUNDS):
        if us <= b:
            return i
    return 3


def score(rows, feature):
    conf = [[0] * 4 for _ in range(4)]
    for r in rows:
        conf[int(r['actual'])][class_of(int(r[feature]))] += 1
    n = sum(map(sum, conf))
    acc = sum(conf[i][i] for i in range(4)) / n
    recalls = [conf[a][a] / sum(conf[a]) if sum(conf[a]) else None for a in range(4)]
    present = [x for x in recalls if x is not None]
    return conf, acc, sum(present) / len(present), recalls


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        rows = [r for r in csv.DictReader(f) if r['point'] == '0']
    if not rows:
        sys.exit('no wakeup samples (point 0) in ' + sys.argv[1])
    print(f'{len(rows)} wakeup samples; support per actual class:',
          ', '.join(f'{NAMES[a]} {sum(int(r["actual"]) == a for r in rows)}' for a in range(4)))
    for rule, feature in (('ewma', 'ewma_burst_us'), ('last', 'last_burst_us')):
        conf, acc, bal, rec = score(rows, feature)
        print(f'\nrule {rule} (class of {feature}): accuracy {100 * acc:.1f}%, '
              f'balanced accuracy {100 * bal:.1f}%')
        print('  recall: ' + ', '.join(
            f'{NAMES[a]} {"-" if rec[a] is None else f"{100 * rec[a]:.0f}%"}' for a in range(4)))
        print('  actual \\ pred ' + ''.join(n.rjust(8) for n in NAMES))
        for a in range(4):
            print('  ' + NAMES[a].rjust(13) + ''.join(str(v).rjust(8) for v in conf[a]))
    if '--model-report' in sys.argv:
        path = sys.argv[sys.argv.index('--model-report') + 1]
        print('\nmodel (held out, from ' + path + '):')
        with open(path) as f:
            print(''.join('  ' + l for l in f if not l.startswith('#')), end='')


if __name__ == '__main__':
    main()
