#!/usr/bin/env python3
"""Per-operation costs from two callgrind runs of the same case (N and 2N operations), so that
setup cost cancels out.

  callgrind_ops.py SMALL.out LARGE.out OPS [--top K]

Prints instructions per op, lock-prefixed (atomic read-modify-write) instructions per op, and the
top functions by exclusive instructions per op. Needs callgrind's --dump-instr=yes --demangle=no, and objdump and nm (binutils).
"""
import collections
import re
import subprocess
import sys


def parse(path):
    """(obj, fn, addr) -> Ir, from a callgrind out file with positions 'instr line'."""
    cost = collections.Counter()
    objs, fns = {}, {}
    obj = fn = None
    positions = ['line']
    prev = [0, 0]
    skip = False

    def named(table, s):
        m = re.match(r'\((\d+)\)(?: (.*))?$', s)
        if not m:
            return s
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), s)

    def pos(tok, i):
        if tok == '*':
            return prev[i]
        if tok[0] in '+-':
            v = int(tok[1:], 16) if tok[1:].startswith('0x') else int(tok[1:])
            return prev[i] + v if tok[0] == '+' else prev[i] - v
        return int(tok, 16) if tok.startswith('0x') else int(tok)

    for line in open(path):
        line = line.rstrip('\n')
        if not line:
            continue
        c = line[0]
        if c.isdigit() or c in '+-*':
            toks = line.split()
            vals = []
            for i in range(len(positions)):
                prev[i] = pos(toks[i], i)
                vals.append(prev[i])
            if skip:  # the cost line after calls= is inclusive cost of the call
                skip = False
                continue
            rest = toks[len(positions):]
            if rest:
                cost[(obj, fn, vals[0])] += int(rest[0])
            continue
        if line.startswith('positions:'):
            positions = line.split()[1:]
        elif line.startswith('ob='):
            obj = named(objs, line[3:])
        elif line.startswith('fn='):
            fn = named(fns, line[3:])
        elif line.startswith('cob='):
            named(objs, line[4:])
        elif line.startswith('cfn='):
            named(fns, line[4:])
        elif line.startswith('calls='):
            skip = True
    return cost


def lock_instructions(obj):
    """file address -> instruction text, for every lock-prefixed or xchg-with-memory instruction."""
    out = {}
    try:
        dis = subprocess.run(['objdump', '-d', '--no-show-raw-insn', obj],
                             capture_output=True, text=True).stdout
    except OSError:
        return out
    for l in dis.splitlines():
        m = re.match(r'^\s+([0-9a-f]+):\s+(.*)$', l)
        if m:
            ins = m.group(2).strip()
            if ins.startswith('lock') or (ins.startswith('xchg') and '(' in ins):
                out[int(m.group(1), 16)] = ins
    return out


def symbols(obj):
    """symbol name -> file address (from nm; callgrind must run with --demangle=no)."""
    out = {}
    for args in (['nm', '--defined-only', obj], ['nm', '-D', '--defined-only', obj]):
        try:
            text = subprocess.run(args, capture_output=True, text=True).stdout
        except OSError:
            continue
        for l in text.splitlines():
            parts = l.split()
            if len(parts) == 3 and parts[1] in 'tTwWiI':
                out.setdefault(parts[2].split('@')[0], int(parts[0], 16))
    return out


def count_locks(cost):
    """Executed lock-prefixed instructions, over every object that has symbols."""
    total = 0
    by_obj = collections.defaultdict(list)
    for (o, f, a), c in cost.items():
        by_obj[o].append((f, a, c))
    for o, items in by_obj.items():
        if not o or not o.startswith('/'):
            continue
        locks = lock_instructions(o)
        if not locks:
            continue
        syms = symbols(o)
        # runtime address - file address, voted by each function's lowest executed address
        lowest = {}
        for f, a, _ in items:
            if f in syms and (f not in lowest or a < lowest[f]):
                lowest[f] = a
        votes = collections.Counter(a - syms[f] for f, a in lowest.items())
        if not votes:
            continue
        bias = votes.most_common(1)[0][0]
        total += sum(c for _, a, c in items if a - bias in locks)
    return total


def main():
    small, large, ops = sys.argv[1], sys.argv[2], int(sys.argv[3])
    top = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == '--top' else 0
    a, b = parse(small), parse(large)
    ir = (sum(b.values()) - sum(a.values())) / ops
    locks = (count_locks(b) - count_locks(a)) / ops
    print(f"{ir:8.1f} {locks:6.2f}")
    if top:
        import shutil
        fa, fb = collections.Counter(), collections.Counter()
        for (o, f, _), c in a.items():
            fa[f] += c
        for (o, f, _), c in b.items():
            fb[f] += c
        diff = {f: (fb[f] - fa.get(f, 0)) / ops for f in fb}
        rows = [(f, v) for f, v in sorted(diff.items(), key=lambda kv: -kv[1])[:top] if v >= 0.5]
        names = [f for f, _ in rows]
        if shutil.which('c++filt') or shutil.which('rustfilt'):
            tool = 'rustfilt' if shutil.which('rustfilt') else 'c++filt'
            names = subprocess.run([tool], input='\n'.join(names), capture_output=True,
                                   text=True).stdout.splitlines() or names
        for (f, v), name in zip(rows, names):
            print(f"    {v:7.1f}  {re.sub(r'::h[0-9a-f]{16}$', '', name)}")


main()
