using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lathe.Inference.Constraints;

/// <summary>What the processors of one constraint share: the grammar's automaton, the vocabulary's trie, the stop
/// tokens, the literal tokens (added tokens the grammar may spell, such as "&lt;tool_call&gt;"), and the masks computed
/// so far. A mask depends only on the automaton state, and a sequence often stays in one state for many tokens (inside
/// a string), so each state's mask is computed once by a trie walk and then reused, by every choice of the request.</summary>
/// <remarks>Thread-safe: the processors lock this object around each call, so choices decoded on different threads
/// share the caches safely.</remarks>
internal sealed class TokenMasker
{
    // A bound on one constraint's cached masks (≈ 6 KB each for a 50k vocabulary, so ~2,600 states): past it the
    // cache starts again. Typical outputs visit a few hundred states.
    const long MaxMaskBytes = 16L << 20;

    public GrammarAutomaton Automaton { get; }
    public TokenTrie Trie { get; }

    readonly int[] _stops;
    readonly (int Id, byte[] Bytes)[] _literals;
    readonly float[] _saved;
    readonly Dictionary<int, Mask> _masks = [];
    long _maskBytes;
    readonly int[] _walkNode, _walkState, _walkEdge;
    readonly int[][] _walkRow;

    /// <summary>Mask computations and cache hits (for the benchmark).</summary>
    public int MasksComputed { get; private set; }
    public int MaskHits { get; private set; }

    sealed record Mask(ulong[] Bits, bool Any);

    public TokenMasker(Grammar grammar, TokenTrie trie, IReadOnlyCollection<int> stopTokens, IEnumerable<(int Id, byte[] Bytes)>? literals = null)
    {
        Automaton = new GrammarAutomaton(grammar);
        Trie = trie;
        _stops = stopTokens.Distinct().ToArray();
        _literals = (literals ?? []).Where(l => !_stops.Contains(l.Id) && l.Bytes.Length > 0).ToArray();
        _saved = new float[_stops.Length + _literals.Length];
        _walkNode = new int[trie.MaxDepth + 1];
        _walkState = new int[trie.MaxDepth + 1];
        _walkEdge = new int[trie.MaxDepth + 1];
        _walkRow = new int[trie.MaxDepth + 1][];
    }

    public bool IsStop(int token) => Array.IndexOf(_stops, token) >= 0;

    /// <summary>Sets to −∞ the logits of every token that cannot continue from <paramref name="state"/>; the stop
    /// tokens stay only where the output may end. If nothing at all may follow (a dead state, or a grammar the
    /// vocabulary cannot spell), the stop tokens are left so that the sequence ends rather than sampling from nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(int state, Span<float> logits)
    {
        int V = logits.Length;
        for (int i = 0; i < _stops.Length; i++) _saved[i] = (uint)_stops[i] < (uint)V ? logits[_stops[i]] : 0;
        for (int i = 0; i < _literals.Length; i++) _saved[_stops.Length + i] = (uint)_literals[i].Id < (uint)V ? logits[_literals[i].Id] : 0;

        bool any = false;
        if (state < 0) logits.Fill(float.NegativeInfinity);
        else
        {
            var mask = MaskFor(state);
            any = mask.Any;
            var bits = mask.Bits;
            // Only the refused tokens are touched: whole refused words are filled, mixed words walk their zero bits.
            for (int w = 0, start = 0; start < V; w++, start += 64)
            {
                int count = Math.Min(64, V - start);
                ulong refused = ~(w < bits.Length ? bits[w] : 0) & (count == 64 ? ulong.MaxValue : (1UL << count) - 1);
                if (refused == 0) continue;
                if (refused == ulong.MaxValue) { logits.Slice(start, 64).Fill(float.NegativeInfinity); continue; }
                while (refused != 0)
                {
                    logits[start + BitOperations.TrailingZeroCount(refused)] = float.NegativeInfinity;
                    refused &= refused - 1;
                }
            }
            for (int i = 0; i < _literals.Length; i++)
            {
                var (id, bytes) = _literals[i];
                if ((uint)id < (uint)V && Automaton.Advance(state, bytes) >= 0) { logits[id] = _saved[_stops.Length + i]; any = true; }
            }
        }
        if (Automaton.IsAccepting(state) || !any)
            for (int i = 0; i < _stops.Length; i++)
                if ((uint)_stops[i] < (uint)V) logits[_stops[i]] = _saved[i];
    }

    /// <summary>The state after <paramref name="token"/> (a stop token leaves it unchanged; a token the grammar refuses,
    /// or one with no bytes, gives <see cref="GrammarAutomaton.Dead"/>).</summary>
    public int Advance(int state, int token)
    {
        if (state < 0 || IsStop(token)) return state;
        var bytes = Trie.TokenBytes(token);
        if (bytes is null)
            foreach (var (id, literal) in _literals)
                if (id == token) { bytes = literal; break; }
        return bytes is null ? GrammarAutomaton.Dead : Automaton.Advance(state, bytes);
    }

    internal void ClearCacheForTests() { _masks.Clear(); _maskBytes = 0; }

    Mask MaskFor(int state)
    {
        if (_masks.TryGetValue(state, out var mask)) { MaskHits++; return mask; }
        var bits = new ulong[(Trie.VocabSize + 63) / 64];
        bool any = Walk(state, bits);
        MasksComputed++;
        if (_maskBytes > MaxMaskBytes) { _masks.Clear(); _maskBytes = 0; }
        mask = new Mask(bits, any);
        _masks[state] = mask;
        _maskBytes += bits.Length * 8L;
        return mask;
    }

    // Depth-first over the trie carrying the automaton state: a token is allowed when the walk reaches its node, and a
    // child whose byte the grammar refuses is never entered. Iterative, on preallocated per-depth arrays; the edges of a
    // node are scanned in an inner loop against the state's cached transition row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool Walk(int state, ulong[] bits)
    {
        var trie = Trie;
        var firstEdge = trie._firstEdge;
        var edgeByte = trie._edgeByte;
        var edgeChild = trie._edgeChild;
        var firstToken = trie._firstToken;
        var tokens = trie._tokens;
        var subtreeEnd = trie._subtreeEnd;
        var subtreeBytes = trie._subtreeBytes;
        var nodeAt = _walkNode;
        var edgeAt = _walkEdge;
        var stateAt = _walkState;
        var rowAt = _walkRow;
        bool any = false;
        int depth = 0;
        nodeAt[0] = 0; edgeAt[0] = firstEdge[0]; stateAt[0] = state; rowAt[0] = Automaton.Row(state);
        while (depth >= 0)
        {
            int node = nodeAt[depth], end = firstEdge[node + 1];
            int[] row = rowAt[depth];
            int e = edgeAt[depth];
            for (; e < end; e++)
            {
                int next = row[edgeByte[e]];
                if (next == GrammarAutomaton.Unknown) next = Automaton.Next(stateAt[depth], edgeByte[e]);
                if (next < 0) continue;
                int child = edgeChild[e];
                // A subtree spelled only with bytes that keep the state where it is (ordinary characters inside a
                // string) is allowed whole: its tokens are one run, marked without walking it.
                bool leaf = firstEdge[child] == firstEdge[child + 1];
                bool whole = !leaf && subtreeBytes[child].IsSubsetOf(Automaton.SelfLoops(next));
                int tokensEnd = whole ? firstToken[subtreeEnd[child]] : firstToken[child + 1];
                for (int t = firstToken[child]; t < tokensEnd; t++)
                {
                    int id = tokens[t];
                    bits[id >> 6] |= 1UL << id;
                    any = true;
                }
                if (!whole && !leaf)
                {
                    edgeAt[depth] = e + 1;
                    depth++;
                    nodeAt[depth] = child; edgeAt[depth] = firstEdge[child]; stateAt[depth] = next; rowAt[depth] = Automaton.Row(next);
                    goto descended;
                }
            }
            depth--;
        descended:;
        }
        return any;
    }
}
