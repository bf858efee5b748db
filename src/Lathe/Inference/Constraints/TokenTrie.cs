using System.Runtime.CompilerServices;
using Lathe.Tokenizers;

namespace Lathe.Inference.Constraints;

/// <summary>The vocabulary of a tokenizer as a trie of the tokens' bytes (what <see cref="ITokenizer.DecodeBytes"/>
/// gives for each token alone, which is what <see cref="TextStreamer"/> shows). A constraint walks it with its grammar
/// state: a subtree whose prefix the grammar refuses is skipped whole, so a step costs the valid prefixes, not V ×
/// token length. Built once per tokenizer (<see cref="For"/>) and shared by every constraint on it.</summary>
/// <remarks>Special (added) tokens and tokens with no bytes are not in the trie: a constraint never lets them through
/// except the stop tokens, and literal tokens it is told about by id.</remarks>
public sealed class TokenTrie
{
    static readonly ConditionalWeakTable<ITokenizer, TokenTrie> Cache = new();

    /// <summary>The trie of <paramref name="tokenizer"/>'s vocabulary, built on first use and kept while the tokenizer lives.</summary>
    public static TokenTrie For(ITokenizer tokenizer) => Cache.GetValue(tokenizer, t => new TokenTrie(t));

    /// <summary>The tokenizer's vocabulary size; ids at or above it (a model's padded rows) are never allowed.</summary>
    public int VocabSize { get; }

    /// <summary>Trie nodes (the root included).</summary>
    public int NodeCount => _firstEdge.Length - 1;

    /// <summary>Tokens in the trie (the ordinary ones).</summary>
    public int TokenCount => _tokens.Length;

    // Node n's children are edges [_firstEdge[n], _firstEdge[n + 1]) in byte order; the tokens whose bytes end at n
    // are _tokens[_firstToken[n] .. _firstToken[n + 1]). Root = node 0. Nodes are numbered in preorder.
    internal readonly int[] _firstEdge, _edgeChild, _firstToken, _tokens;
    internal readonly byte[] _edgeByte;
    internal readonly int MaxDepth;
    // The subtree of node n is the nodes [n, _subtreeEnd[n]) (preorder), so its tokens are the contiguous run
    // _tokens[_firstToken[n] .. _firstToken[_subtreeEnd[n]]); _subtreeBytes[n] is every byte on an edge below n.
    internal readonly int[] _subtreeEnd;
    internal readonly ByteSet[] _subtreeBytes;
    readonly byte[]?[] _bytes;

    TokenTrie(ITokenizer tokenizer)
    {
        VocabSize = tokenizer.VocabSize;
        var special = new HashSet<int>(tokenizer.SpecialTokens.Select(s => s.Id));
        _bytes = new byte[VocabSize][];
        var ids = new List<int>(VocabSize);
        var one = new int[1];
        for (int id = 0; id < VocabSize; id++)
        {
            if (special.Contains(id)) continue;
            one[0] = id;
            byte[] bytes;
            try { bytes = tokenizer.DecodeBytes(one); }
            catch (ArgumentException) { continue; }   // a gap in the ids (specials placed past the model's tokens)
            if (bytes.Length == 0) continue;
            _bytes[id] = bytes;
            ids.Add(id);
        }
        // Sorted by bytes, consecutive tokens share their common prefix's path: one pass builds the trie in preorder.
        ids.Sort((a, b) => { int c = _bytes[a].AsSpan().SequenceCompareTo(_bytes[b]); return c != 0 ? c : a.CompareTo(b); });
        var parent = new List<int> { -1 };
        var viaByte = new List<byte> { 0 };
        var nodeOfToken = new int[ids.Count];
        var path = new List<int> { 0 };   // path[d] = node at depth d of the previous token
        byte[] previous = [];
        for (int i = 0; i < ids.Count; i++)
        {
            byte[] bytes = _bytes[ids[i]]!;
            int common = 0;
            while (common < bytes.Length && common < previous.Length && bytes[common] == previous[common]) common++;
            path.RemoveRange(common + 1, path.Count - common - 1);
            for (int d = common; d < bytes.Length; d++)
            {
                parent.Add(path[d]);
                viaByte.Add(bytes[d]);
                path.Add(parent.Count - 1);
            }
            nodeOfToken[i] = path[bytes.Length];
            MaxDepth = Math.Max(MaxDepth, bytes.Length);
            previous = bytes;
        }
        int nodes = parent.Count;
        // Children of a node were created in byte order, so a stable counting sort by parent keeps that order.
        _firstEdge = new int[nodes + 1];
        for (int n = 1; n < nodes; n++) _firstEdge[parent[n] + 1]++;
        for (int n = 0; n < nodes; n++) _firstEdge[n + 1] += _firstEdge[n];
        _edgeChild = new int[nodes - 1];
        _edgeByte = new byte[nodes - 1];
        var fill = _firstEdge[..nodes];
        for (int n = 1; n < nodes; n++)
        {
            int e = fill[parent[n]]++;
            _edgeChild[e] = n;
            _edgeByte[e] = viaByte[n];
        }
        _firstToken = new int[nodes + 1];
        foreach (int node in nodeOfToken) _firstToken[node + 1]++;
        for (int n = 0; n < nodes; n++) _firstToken[n + 1] += _firstToken[n];
        _tokens = new int[ids.Count];
        var at = _firstToken[..nodes];
        for (int i = 0; i < ids.Count; i++) _tokens[at[nodeOfToken[i]]++] = ids[i];

        // Bottom-up (reverse preorder visits children before parents).
        _subtreeEnd = new int[nodes];
        _subtreeBytes = new ByteSet[nodes];
        for (int n = nodes - 1; n >= 0; n--)
        {
            int end = n + 1;
            var below = ByteSet.Empty;
            for (int e = _firstEdge[n]; e < _firstEdge[n + 1]; e++)
            {
                int child = _edgeChild[e];
                below |= ByteSet.Of(_edgeByte[e]) | _subtreeBytes[child];
                end = Math.Max(end, _subtreeEnd[child]);
            }
            _subtreeEnd[n] = end;
            _subtreeBytes[n] = below;
        }
    }

    /// <summary>The bytes of an ordinary token, or null for a special or empty one (or an id out of range).</summary>
    public byte[]? TokenBytes(int id) => (uint)id < (uint)_bytes.Length ? _bytes[id] : null;
}
