using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Inference;

/// <summary>A KV cache shared by many sequences: per layer, one pool of fixed-size blocks of keys and values
/// (Hkv, blocks, blockSize, D), head-major so that a sequence's blocks handed out in order read as one run per head; each sequence owns a block table and a length, so sequences of different lengths share
/// the pool and a scheduler can add and remove them between steps. Forked sequences share their blocks (reference
/// counted) until one of them writes into a shared block, which is then copied (copy-on-write) — a beam search's
/// hypotheses share their common prefix. A step is laid out with <see cref="Schedule"/> and run by a model's
/// <see cref="CausalLM.Forward"/>, which reads this through <see cref="IKvCache"/>.</summary>
public sealed unsafe class PagedKvCache : IKvCache, IDisposable
{
    /// <summary>Tokens per block unless the caller chooses: small enough that a sequence wastes little of its last
    /// block, large enough that the attention kernel reads long contiguous runs.</summary>
    public const int DefaultBlockSize = 16;

    readonly Tensor[] _keys, _values;          // per layer (Hkv, Blocks, BlockSize, D)
    readonly int[] _references;                // per block: how many sequences' tables hold it (0: free)
    readonly int[] _freeList;                  // free block ids, a stack
    int _freeCount;
    readonly List<Sequence?> _sequences = [];
    readonly int _maxBlocksPerSequence;

    // The scheduled step (see Schedule): per row and per sequence, reused from step to step.
    int _rows, _scheduled;
    int[] _stepSequences = [], _stepCounts = [], _segmentStarts = [0], _lastRows = [];
    int[] _rowPositions = [], _rowTableStart = [], _rowVisible = [], _tables = [];

    // An encoder-decoder's memory (cross-attention keys and values), one memory sequence per sequence, and the step's
    // layout over it: every row its own segment, seeing its whole memory.
    PagedKvCache? _memory;
    int[] _memoryOf = [];
    int[] _memoryTables = [], _memoryRowStart = [], _memoryRowVisible = [], _memorySegments = [];

    sealed class Sequence(int maxBlocks)
    {
        public readonly int[] Table = new int[maxBlocks];
        public int Blocks, Length;
    }

    /// <summary>Layers of keys and values the cache holds.</summary>
    public int Layers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int BlockSize { get; }
    /// <summary>Blocks in the pool (each holds <see cref="BlockSize"/> tokens of one sequence, every layer).</summary>
    public int Blocks { get; }
    /// <summary>The most tokens one sequence may hold (the model's context).</summary>
    public int MaxLength { get; }
    public int FreeBlocks => _freeCount;

    /// <summary>A cache for a decoder: <paramref name="blocks"/> defaults to one sequence of the full context.</summary>
    public PagedKvCache(ModelConfig config, int? blocks = null, int blockSize = DefaultBlockSize)
        : this(config.Layers, config.KvHeads, config.HeadDim, config.MaxPositions,
               blocks ?? (config.MaxPositions + Math.Max(blockSize, 1) - 1) / Math.Max(blockSize, 1), blockSize) { }

    /// <summary>A cache of <paramref name="layers"/> layers of (Hkv, D) keys and values per token, sequences of up to
    /// <paramref name="maxLength"/> tokens, and a pool of <paramref name="blocks"/> blocks of
    /// <paramref name="blockSize"/> tokens.</summary>
    public PagedKvCache(int layers, int kvHeads, int headDim, int maxLength, int blocks, int blockSize = DefaultBlockSize)
    {
        if (layers <= 0 || kvHeads <= 0 || headDim <= 0 || maxLength <= 0 || blocks <= 0 || blockSize <= 0)
            throw new ArgumentException($"kv cache: layers {layers}, kv heads {kvHeads}, head dim {headDim}, max length {maxLength}, blocks {blocks} and block size {blockSize} must be positive.");
        Layers = layers; KvHeads = kvHeads; HeadDim = headDim; MaxLength = maxLength; Blocks = blocks; BlockSize = blockSize;
        _maxBlocksPerSequence = (maxLength + blockSize - 1) / blockSize;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = Tensor.Zeros(kvHeads, blocks, blockSize, headDim);
            _values[l] = Tensor.Zeros(kvHeads, blocks, blockSize, headDim);
        }
        _references = new int[blocks];
        _freeList = new int[blocks];
        for (int b = 0; b < blocks; b++) _freeList[b] = blocks - 1 - b;   // block 0 handed out first
        _freeCount = blocks;
    }

    /// <summary>Starts an empty sequence; returns its id (ids of freed sequences are reused).</summary>
    public int AddSequence()
    {
        for (int i = 0; i < _sequences.Count; i++)
            if (_sequences[i] is null) { _sequences[i] = new Sequence(_maxBlocksPerSequence); return i; }
        _sequences.Add(new Sequence(_maxBlocksPerSequence));
        return _sequences.Count - 1;
    }

    /// <summary>Starts a sequence whose first <paramref name="length"/> tokens are already cached in
    /// <paramref name="blocks"/> (full blocks another sequence computed, e.g. from a prefix cache): the blocks are shared,
    /// reference counted, and copied only if the new sequence writes into one.</summary>
    public int AddSequence(ReadOnlySpan<int> blocks, int length)
    {
        if (length < 0 || length > blocks.Length * BlockSize || (blocks.Length > 0 && length <= (blocks.Length - 1) * BlockSize) || blocks.Length > _maxBlocksPerSequence)
            throw new ArgumentException($"kv cache: {length} cached tokens do not fill {blocks.Length} blocks of {BlockSize}.");
        foreach (int b in blocks)
            if ((uint)b >= (uint)Blocks || _references[b] == 0) throw new ArgumentException($"kv cache: block {b} is not in use; only cached blocks can be shared.");
        int id = AddSequence();
        var s = _sequences[id]!;
        blocks.CopyTo(s.Table);
        s.Blocks = blocks.Length;
        s.Length = length;
        foreach (int b in blocks) _references[b]++;
        return id;
    }

    /// <summary>The blocks holding <paramref name="sequence"/>'s tokens, in order (block i holds positions
    /// i·BlockSize …).</summary>
    public ReadOnlySpan<int> BlockTable(int sequence)
    {
        var s = Get(sequence);
        return s.Table.AsSpan(0, s.Blocks);
    }

    /// <summary>Keeps <paramref name="block"/> alive beyond the sequences that hold it (a prefix cache's reference).</summary>
    public void Retain(int block)
    {
        if ((uint)block >= (uint)Blocks || _references[block] == 0) throw new ArgumentException($"kv cache: block {block} is not in use.");
        _references[block]++;
    }

    /// <summary>Drops a reference taken with <see cref="Retain"/>; the block returns to the pool when none is left.</summary>
    public void Release(int block)
    {
        if ((uint)block >= (uint)Blocks || _references[block] == 0) throw new ArgumentException($"kv cache: block {block} is not in use.");
        if (--_references[block] == 0) _freeList[_freeCount++] = block;
    }

    /// <summary>How many holders (sequences, retains) <paramref name="block"/> has; 0 when it is free.</summary>
    public int References(int block) => _references[block];

    /// <summary>Ends a sequence, returning the blocks no other sequence shares to the pool (its memory's too).</summary>
    public void Free(int sequence)
    {
        var s = Get(sequence);
        Release(s, 0);
        _sequences[sequence] = null;
        if (MemoryOf(sequence) is int m and >= 0) { _memory!.Free(m); _memoryOf[sequence] = -1; }
    }

    /// <summary>Gives the cache room for encoder memories (cross-attention keys and values of an encoder-decoder):
    /// sequences of up to <paramref name="maxLength"/> encoder tokens in a pool of <paramref name="blocks"/> blocks.</summary>
    public void EnableMemory(int maxLength, int blocks)
    {
        if (_memory is not null) throw new InvalidOperationException("kv cache: the memory pool exists already.");
        _memory = new PagedKvCache(Layers, KvHeads, HeadDim, maxLength, blocks, BlockSize);
    }

    /// <summary>Stores <paramref name="sequence"/>'s encoder memory for <paramref name="layer"/>: keys and values
    /// (Te, Hkv·D). Call once per layer, layers in order, before the sequence's first step; every layer with the same
    /// Te (the encoder's real tokens: padding is simply not stored).</summary>
    public void StoreMemory(int sequence, int layer, Tensor k, Tensor v)
    {
        Get(sequence);
        var memory = _memory ?? throw new InvalidOperationException("kv cache: no memory pool (call EnableMemory first).");
        int id = MemoryOf(sequence) ?? -1;
        if (layer == 0)
        {
            if (id >= 0) throw new InvalidOperationException($"kv cache: sequence {sequence} has its memory already.");
            if (_memoryOf.Length < _sequences.Count) Array.Resize(ref _memoryOf, Math.Max(_sequences.Count, 2 * _memoryOf.Length));
            id = _memoryOf[sequence] = memory.AddSequence();
            memory.Schedule([id], [k.Shape[0]]);
        }
        else if (id < 0 || memory.Rows != k.Shape[0] || memory._stepSequences[0] != id)
            throw new InvalidOperationException($"kv cache: store sequence {sequence}'s memory layer by layer from 0, {k.Shape[0]} rows each.");
        memory.StoreRows(layer, k, v);
        if (layer == Layers - 1) memory.Commit();
    }

    int? MemoryOf(int sequence) => sequence < _memoryOf.Length && _memoryOf[sequence] >= 0 ? _memoryOf[sequence] : null;

    /// <summary>A new sequence with the same cached tokens as <paramref name="sequence"/>. Blocks are shared until
    /// either writes into one (then that block is copied), so a fork costs no copy up front.</summary>
    public int Fork(int sequence)
    {
        var source = Get(sequence);
        int id = AddSequence();
        if (MemoryOf(sequence) is int m)
        {
            if (_memoryOf.Length <= id) Array.Resize(ref _memoryOf, Math.Max(id + 1, 2 * _memoryOf.Length));
            _memoryOf[id] = _memory!.Fork(m);
        }
        var s = _sequences[id]!;
        source.Table.AsSpan(0, source.Blocks).CopyTo(s.Table);
        s.Blocks = source.Blocks;
        s.Length = source.Length;
        for (int i = 0; i < s.Blocks; i++) _references[s.Table[i]]++;
        return id;
    }

    /// <summary>Tokens cached for <paramref name="sequence"/> (the position of its next token).</summary>
    public int Length(int sequence) => Get(sequence).Length;

    /// <summary>Forgets every position of <paramref name="sequence"/> from <paramref name="length"/> on, keeping the prefix
    /// (e.g. the part of a chat history that did not change, so only the new turn is processed).</summary>
    public void Truncate(int sequence, int length)
    {
        var s = Get(sequence);
        if (length < 0 || length > s.Length) throw new ArgumentOutOfRangeException(nameof(length), $"kv cache: cannot truncate sequence {sequence} of {s.Length} tokens to {length}.");
        s.Length = length;
        Release(s, (length + BlockSize - 1) / BlockSize);
    }

    /// <summary>Lays out the next step: <paramref name="counts"/>[i] new tokens of sequence
    /// <paramref name="sequences"/>[i], rows in that order (the ids passed to <see cref="CausalLM.Forward"/> follow it).
    /// Makes room in the pool first; when the pool cannot hold the new tokens nothing changes and the error says so.</summary>
    public void Schedule(ReadOnlySpan<int> sequences, ReadOnlySpan<int> counts)
    {
        if (sequences.Length != counts.Length || sequences.Length == 0)
            throw new ArgumentException($"kv cache: {sequences.Length} sequences with {counts.Length} token counts; schedule at least one.");
        int rows = 0, needed = 0;
        for (int i = 0; i < sequences.Length; i++)
        {
            var s = Get(sequences[i]);
            for (int j = 0; j < i; j++)
                if (sequences[j] == sequences[i]) throw new ArgumentException($"kv cache: sequence {sequences[i]} is scheduled twice in one step.");
            if (counts[i] <= 0) throw new ArgumentException($"kv cache: sequence {sequences[i]} is scheduled with {counts[i]} tokens.");
            if (s.Length + counts[i] > MaxLength)
                throw new InvalidOperationException($"kv cache: sequence {sequences[i]} at {s.Length} + {counts[i]} tokens exceeds the context of {MaxLength}.");
            needed += BlocksToWrite(s, s.Length + counts[i]);
            rows += counts[i];
        }
        if (needed > _freeCount)
            throw new InvalidOperationException($"kv cache: the pool of {Blocks} blocks of {BlockSize} tokens is full ({needed} more needed, {_freeCount} free); free a sequence or make the cache larger.");

        Grow(ref _stepSequences, sequences.Length);
        Grow(ref _stepCounts, sequences.Length);
        Grow(ref _segmentStarts, sequences.Length + 1);
        Grow(ref _lastRows, sequences.Length);
        Grow(ref _rowPositions, rows);
        Grow(ref _rowTableStart, rows);
        Grow(ref _rowVisible, rows);
        int tableEntries = 0;
        for (int i = 0; i < sequences.Length; i++) tableEntries += (Get(sequences[i]).Length + counts[i] + BlockSize - 1) / BlockSize;
        Grow(ref _tables, tableEntries);
        int row = 0, table = 0;
        for (int i = 0; i < sequences.Length; i++)
        {
            var s = Get(sequences[i]);
            int end = s.Length + counts[i];
            MakeWritable(s, end);
            s.Table.AsSpan(0, s.Blocks).CopyTo(_tables.AsSpan(table));
            _stepSequences[i] = sequences[i];
            _stepCounts[i] = counts[i];
            _segmentStarts[i] = row;
            for (int t = 0; t < counts[i]; t++, row++)
            {
                _rowPositions[row] = s.Length + t;
                _rowVisible[row] = s.Length + t + 1;
                _rowTableStart[row] = table;
            }
            _lastRows[i] = row - 1;
            table += s.Blocks;
        }
        _segmentStarts[sequences.Length] = row;
        _rows = rows;
        _scheduled = sequences.Length;
        if (_memory is not null) LayOutMemory();
    }

    // The step's rows over their sequences' memories (for AttendMemory); rows of a sequence without one see none.
    void LayOutMemory()
    {
        var memory = _memory!;
        Grow(ref _memoryRowStart, _rows);
        Grow(ref _memoryRowVisible, _rows);
        Grow(ref _memorySegments, _rows + 1);
        int entries = 0;
        for (int i = 0; i < _scheduled; i++)
            if (MemoryOf(_stepSequences[i]) is int m) entries += memory.Get(m).Blocks;
        Grow(ref _memoryTables, entries);
        int table = 0;
        for (int i = 0; i < _scheduled; i++)
        {
            var m = MemoryOf(_stepSequences[i]) is int id ? memory.Get(id) : null;
            if (m is not null) m.Table.AsSpan(0, m.Blocks).CopyTo(_memoryTables.AsSpan(table));
            for (int r = _segmentStarts[i]; r < _segmentStarts[i + 1]; r++)
            {
                _memoryRowStart[r] = table;
                _memoryRowVisible[r] = m?.Length ?? 0;
            }
            table += m?.Blocks ?? 0;
        }
        for (int r = 0; r <= _rows; r++) _memorySegments[r] = r;
    }

    /// <summary>Cross-attention over each row's sequence memory (see <see cref="IKvCache.AttendMemory"/>).</summary>
    public Tensor AttendMemory(int layer, Tensor q, int heads, float? scale = null)
    {
        if (_rows == 0) throw new InvalidOperationException("kv cache: no step is scheduled (call Schedule before the model's Forward).");
        if (_memory is null) throw new InvalidOperationException("kv cache: no memory pool (call EnableMemory first).");
        for (int r = 0; r < _rows; r++)
            if (_memoryRowVisible[r] == 0) throw new InvalidOperationException($"kv cache: row {r}'s sequence has no stored memory.");
        return Ops.AttentionPaged(q, _memory._keys[layer], _memory._values[layer], heads, _memoryTables, _memoryRowStart.AsSpan(0, _rows),
            _memoryRowVisible.AsSpan(0, _rows), _memorySegments.AsSpan(0, _rows + 1), null, scale);
    }

    /// <summary>Runs one step of one sequence: schedules <paramref name="ids"/> after its cached tokens and returns the
    /// model's logits — of the last token (1, V) when <paramref name="lastOnly"/>, else of every token (T, V).</summary>
    public Tensor Forward(ICachedDecoder model, ReadOnlySpan<int> ids, int sequence, bool lastOnly = true)
    {
        Schedule([sequence], [ids.Length]);
        return model.Forward(ids, this, lastOnly);
    }

    /// <summary>Runs one batched step: <paramref name="counts"/>[i] tokens of <paramref name="sequences"/>[i], the ids
    /// concatenated in that order. Returns each sequence's last-token logits (sequences, V) when
    /// <paramref name="lastOnly"/>, else every row's (N, V).</summary>
    public Tensor Forward(ICachedDecoder model, ReadOnlySpan<int> ids, ReadOnlySpan<int> sequences, ReadOnlySpan<int> counts, bool lastOnly = true)
    {
        Schedule(sequences, counts);
        return model.Forward(ids, this, lastOnly);
    }

    /// <summary>The scheduled step's token rows.</summary>
    public int Rows => _rows;
    public ReadOnlySpan<int> Positions => _rowPositions.AsSpan(0, _rows);
    public ReadOnlySpan<int> LastRows => _lastRows.AsSpan(0, _scheduled);

    /// <summary>Stores the rows' keys and values of <paramref name="layer"/> at their positions, then attends (see
    /// <see cref="Ops.AttentionPaged"/>).</summary>
    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, int heads, Tensor? positionBias = null, float? scale = null,
        Tensor? prefixKeys = null, Tensor? prefixValues = null, int window = 0, float softCap = 0)
    {
        StoreRows(layer, k, v);
        return Ops.AttentionPaged(q, _keys[layer], _values[layer], heads, _tables, _rowTableStart.AsSpan(0, _rows), _rowVisible.AsSpan(0, _rows),
            _segmentStarts.AsSpan(0, _scheduled + 1), positionBias, scale, prefixKeys, prefixValues, window, softCap);
    }

    void StoreRows(int layer, Tensor k, Tensor v)
    {
        if (_rows == 0) throw new InvalidOperationException("kv cache: no step is scheduled (call Schedule before the model's Forward).");
        int width = KvHeads * HeadDim;
        if ((uint)layer >= (uint)Layers || k.Rank != 2 || v.Rank != 2 || k.Shape[0] != _rows || v.Shape[0] != _rows
            || k.Shape[1] != width || v.Shape[1] != width || k.Strides[1] != 1 || v.Strides[1] != 1)
            throw new ArgumentException($"kv cache: layer {layer} of {Layers}, keys {Tensor.ShapeString(k.Shape)} and values {Tensor.ShapeString(v.Shape)} must be ({_rows}, {width}) rows.");
        Store(_keys[layer], k);
        Store(_values[layer], v);
    }

    // Copies row r's Hkv heads of D values to its position's slot in the pool.
    void Store(Tensor pool, Tensor x)
    {
        int D = HeadDim, rowStride = _rows > 1 ? x.Strides[0] : 0;
        float* src = x.Data, dst = pool.Data;
        for (int r = 0; r < _rows; r++)
        {
            int position = _rowPositions[r];
            long block = _tables[_rowTableStart[r] + position / BlockSize], offset = position % BlockSize;
            for (int h = 0; h < KvHeads; h++)
                new ReadOnlySpan<float>(src + (long)r * rowStride + h * D, D)
                    .CopyTo(new Span<float>(dst + (((long)h * Blocks + block) * BlockSize + offset) * D, D));
        }
    }

    /// <summary>After the model's last layer: the scheduled tokens join their sequences.</summary>
    public void Commit()
    {
        for (int i = 0; i < _scheduled; i++) _sequences[_stepSequences[i]]!.Length += _stepCounts[i];
        _rows = _scheduled = 0;
    }

    // Blocks a write of positions [Length, end) takes from the pool: new blocks, and copies of shared ones written into.
    int BlocksToWrite(Sequence s, int end)
    {
        int first = s.Length / BlockSize, last = (end + BlockSize - 1) / BlockSize, n = 0;
        for (int i = first; i < last; i++) if (i >= s.Blocks || _references[s.Table[i]] > 1) n++;
        return n;
    }

    // Gives s its own blocks for positions [Length, end): allocates missing ones and copies shared ones (copy-on-write).
    void MakeWritable(Sequence s, int end)
    {
        int first = s.Length / BlockSize, last = (end + BlockSize - 1) / BlockSize;
        for (int i = first; i < last; i++)
        {
            if (i >= s.Blocks) { s.Table[i] = Take(); s.Blocks = i + 1; continue; }
            int shared = s.Table[i];
            if (_references[shared] == 1) continue;
            int copy = Take();
            int floats = BlockSize * HeadDim;
            for (int l = 0; l < Layers; l++)
                for (int h = 0; h < KvHeads; h++)
                {
                    long head = (long)h * Blocks * floats;
                    new ReadOnlySpan<float>(_keys[l].Data + head + (long)shared * floats, floats).CopyTo(new Span<float>(_keys[l].Data + head + (long)copy * floats, floats));
                    new ReadOnlySpan<float>(_values[l].Data + head + (long)shared * floats, floats).CopyTo(new Span<float>(_values[l].Data + head + (long)copy * floats, floats));
                }
            _references[shared]--;
            s.Table[i] = copy;
        }
    }

    int Take()
    {
        int block = _freeList[--_freeCount];
        _references[block] = 1;
        return block;
    }

    // Drops s's blocks from index `keep` on. Last block first onto the free stack, so the next sequence takes them back
    // in ascending order (its keys then read forward through memory).
    void Release(Sequence s, int keep)
    {
        for (int i = s.Blocks - 1; i >= keep; i--)
            if (--_references[s.Table[i]] == 0) _freeList[_freeCount++] = s.Table[i];
        s.Blocks = Math.Min(s.Blocks, keep);
    }

    Sequence Get(int sequence) =>
        (uint)sequence < (uint)_sequences.Count && _sequences[sequence] is { } s ? s
        : throw new ArgumentException($"kv cache: sequence {sequence} does not exist (freed or never added).");

    static void Grow(ref int[] array, int length)
    {
        if (array.Length < length) array = new int[Math.Max(length, 2 * array.Length)];
    }

    public void Dispose()
    {
        _memory?.Dispose();
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
