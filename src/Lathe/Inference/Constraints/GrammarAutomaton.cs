using System.Runtime.CompilerServices;

namespace Lathe.Inference.Constraints;

/// <summary>Recognises a <see cref="Grammar"/> byte by byte. A state is the set of parse stacks still alive (the
/// method of llama.cpp's grammar engine: each stack's top is the terminal it expects next, below it the positions to
/// return to). Stacks are hash-consed into ids, so a state is a small sorted array of ids, and states are interned,
/// so the transition of a state on a byte is computed once and cached: the pushdown machine becomes a DFA built
/// lazily over the states the outputs (and the token trie walks) actually visit.</summary>
/// <remarks>Not thread-safe: <see cref="TokenMasker"/> serialises the processors that share one.</remarks>
internal sealed class GrammarAutomaton
{
    public const int Dead = -1;
    /// <summary>A row entry not computed yet (see <see cref="Row"/>).</summary>
    public const int Unknown = -2;

    readonly Grammar _grammar;

    // Stack nodes: id 0 is the empty stack (the grammar has matched); node i > 0 is (position to run next, rest).
    int[] _nodePos = new int[1024], _nodeParent = new int[1024];
    int _nodeCount = 1;
    readonly Dictionary<long, int> _nodeIds = [];

    // States: their stacks (sorted ids), their byte transitions (Unknown until computed), accepting / complete.
    int[][] _stacks = new int[64][];
    int[][] _rows = new int[64][];
    bool[] _accepting = new bool[64], _complete = new bool[64];
    ByteSet[] _selfLoops = new ByteSet[64];
    int _stateCount;
    readonly Dictionary<int[], int> _stateIds = new(StackSetComparer.Instance);

    // Scratch of one transition.
    readonly HashSet<long> _visited = [];
    readonly Stack<(int Pos, int Parent)> _work = new();
    readonly HashSet<int> _found = [];
    readonly Dictionary<ulong, int> _classStates = [];

    public GrammarAutomaton(Grammar grammar)
    {
        _grammar = grammar;
        _visited.Clear();
        _found.Clear();
        foreach (int alt in grammar.Alternatives[grammar.Start]) Close(alt, 0);
        Initial = Intern();
    }

    /// <summary>The state before any byte.</summary>
    public int Initial { get; }

    /// <summary>States created so far (for tests and the benchmark).</summary>
    public int StateCount => _stateCount;

    /// <summary>True when the bytes so far are a complete sentence of the grammar (more may follow).</summary>
    public bool IsAccepting(int state) => state >= 0 && _accepting[state];

    /// <summary>True when the bytes so far are a complete sentence and nothing may follow.</summary>
    public bool IsComplete(int state) => state >= 0 && _complete[state];

    /// <summary>The state after <paramref name="b"/>, or <see cref="Dead"/> when the grammar cannot continue with it.</summary>
    public int Next(int state, byte b)
    {
        int next = _rows[state][b];
        if (next != Unknown) return next;
        FillRow(state);
        return _rows[state][b];
    }

    /// <summary>The cached transitions of <paramref name="state"/> by byte: a state, <see cref="Dead"/>, or
    /// <see cref="Unknown"/> until <see cref="Next"/> computes it (which fills this same array).</summary>
    internal int[] Row(int state) => _rows[state];

    /// <summary>The bytes that lead from <paramref name="state"/> back to itself (inside a string: every ordinary
    /// character). A token trie subtree spelled only with them is allowed whole without walking it.</summary>
    internal ByteSet SelfLoops(int state)
    {
        if (_rows[state][0] == Unknown) FillRow(state);
        return _selfLoops[state];
    }

    /// <summary>The state after all of <paramref name="bytes"/> (<see cref="Dead"/> as soon as one is refused).</summary>
    public int Advance(int state, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (state < 0) return Dead;
            state = Next(state, b);
        }
        return state;
    }

    /// <summary>Whether the whole of <paramref name="text"/> is a sentence of the grammar.</summary>
    public bool Accepts(ReadOnlySpan<byte> text) => IsAccepting(Advance(Initial, text));

    // Computes the state's transitions on all 256 bytes at once. Bytes that the same stacks accept lead to the same
    // state, and there are few such classes (in a string: ordinary characters, the quote, the backslash, each UTF-8
    // lead-byte range), so one closure is computed per class rather than per byte.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void FillRow(int state)
    {
        var stacks = _stacks[state];
        var row = _rows[state];
        var code = _grammar.Code;
        var terminals = _grammar.Terminals;
        _classStates.Clear();
        for (int b = 0; b < 256; b++)
        {
            // The stacks (by index in the state, up to 64 of them) whose terminal accepts b.
            ulong matching = 0;
            bool overflow = false;
            for (int i = 0; i < stacks.Length; i++)
            {
                int stack = stacks[i];
                if (stack == 0 || !terminals[Grammar.Arg(code[_nodePos[stack]])].Contains((byte)b)) continue;
                if (i < 64) matching |= 1UL << i; else overflow = true;
            }
            if (matching == 0 && !overflow) { row[b] = Dead; continue; }
            if (!overflow && _classStates.TryGetValue(matching, out int known)) { row[b] = known; continue; }
            int next = Step(stacks, (byte)b);
            if (!overflow) _classStates[matching] = next;
            row[b] = next;
        }
        var loops = ByteSet.Empty;
        for (int b = 0; b < 256; b++)
            if (row[b] == state) loops |= ByteSet.Of((byte)b);
        _selfLoops[state] = loops;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    int Step(int[] stacks, byte b)
    {
        _visited.Clear();
        _found.Clear();
        foreach (int stack in stacks)
        {
            if (stack == 0) continue;
            int pos = _nodePos[stack];
            if (_grammar.Terminals[Grammar.Arg(_grammar.Code[pos])].Contains(b)) Close(pos + 1, _nodeParent[stack]);
        }
        return _found.Count == 0 ? Dead : Intern();
    }

    // Every stack reachable from running position `pos` over `parent` without consuming a byte: refs expand into
    // their alternatives, an alternative's end returns to the parent. The visited set makes ε-cycles harmless.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Close(int pos, int parent)
    {
        _work.Push((pos, parent));
        var code = _grammar.Code;
        while (_work.Count > 0)
        {
            var (p, par) = _work.Pop();
            if (!_visited.Add((long)p << 32 | (uint)par)) continue;
            int c = code[p];
            switch (Grammar.Kind(c))
            {
                case Grammar.Terminal:
                    _found.Add(Node(p, par));
                    break;
                case Grammar.End:
                    if (par == 0) _found.Add(0);
                    else _work.Push((_nodePos[par], _nodeParent[par]));
                    break;
                default:
                    // A ref that ends its alternative returns straight to the parent (a tail call): repetition written
                    // as right recursion then keeps the stack, and the state, the same.
                    int continuation = Grammar.Kind(code[p + 1]) == Grammar.End ? par : Node(p + 1, par);
                    foreach (int alt in _grammar.Alternatives[Grammar.Arg(c)]) _work.Push((alt, continuation));
                    break;
            }
        }
    }

    int Node(int pos, int parent)
    {
        long key = (long)pos << 32 | (uint)parent;
        if (_nodeIds.TryGetValue(key, out int id)) return id;
        if (_nodeCount == _nodePos.Length)
        {
            Array.Resize(ref _nodePos, _nodeCount * 2);
            Array.Resize(ref _nodeParent, _nodeCount * 2);
        }
        id = _nodeCount++;
        _nodePos[id] = pos;
        _nodeParent[id] = parent;
        _nodeIds.Add(key, id);
        return id;
    }

    // The state whose stacks are _found, created when new.
    int Intern()
    {
        var stacks = new int[_found.Count];
        _found.CopyTo(stacks);
        Array.Sort(stacks);
        if (_stateIds.TryGetValue(stacks, out int id)) return id;
        if (_stateCount == _stacks.Length)
        {
            int size = _stateCount * 2;
            Array.Resize(ref _stacks, size);
            Array.Resize(ref _rows, size);
            Array.Resize(ref _accepting, size);
            Array.Resize(ref _complete, size);
            Array.Resize(ref _selfLoops, size);
        }
        id = _stateCount++;
        _stacks[id] = stacks;
        var row = new int[256];
        Array.Fill(row, Unknown);
        _rows[id] = row;
        _accepting[id] = stacks[0] == 0;
        _complete[id] = stacks.Length == 1 && stacks[0] == 0;
        _stateIds.Add(stacks, id);
        return id;
    }

    sealed class StackSetComparer : IEqualityComparer<int[]>
    {
        public static readonly StackSetComparer Instance = new();
        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(int[] stacks)
        {
            var hash = new HashCode();
            foreach (int s in stacks) hash.Add(s);
            return hash.ToHashCode();
        }
    }
}
