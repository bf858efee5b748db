using System.Numerics.Tensors;
using Lathe.Tensors;

namespace Lathe.Inference;

/// <summary>How the next token is chosen. Zero or null turns a stage off; temperature 0 is greedy.</summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 0.8f;
    public int TopK { get; init; } = 40;
    public float TopP { get; init; } = 0.95f;
    public float MinP { get; init; } = 0.05f;
    /// <summary>CTRL-style repetition penalty (Keskar et al. 2019): a seen token's logit is divided by it when
    /// positive and multiplied when negative. 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>OpenAI-style: subtract count × frequency penalty + (count &gt; 0) × presence penalty.</summary>
    public float FrequencyPenalty { get; init; }
    public float PresencePenalty { get; init; }
    /// <summary>How many recent tokens the penalties look at (0 = all given).</summary>
    public int PenaltyWindow { get; init; } = 64;
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }
    public ulong Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> with one line naming the first value out of range.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0)) throw new ArgumentException($"temperature {Temperature} must be ≥ 0.");
        if (TopK < 0) throw new ArgumentException($"top-k {TopK} must be ≥ 0.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p {TopP} must be in (0, 1].");
        if (!(MinP >= 0 && MinP < 1)) throw new ArgumentException($"min-p {MinP} must be in [0, 1).");
        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty)) throw new ArgumentException($"repetition penalty {RepetitionPenalty} must be a finite number > 0.");
        if (!float.IsFinite(FrequencyPenalty)) throw new ArgumentException($"frequency penalty {FrequencyPenalty} must be a finite number.");
        if (!float.IsFinite(PresencePenalty)) throw new ArgumentException($"presence penalty {PresencePenalty} must be a finite number.");
        if (PenaltyWindow < 0) throw new ArgumentException($"penalty window {PenaltyWindow} must be ≥ 0.");
    }
}

/// <summary>Picks tokens from logits with the stages in llama.cpp's order: logit bias and penalties → top-k → top-p →
/// min-p → temperature → draw. The probabilities of a stage are those of the logits as they stand then (temperature
/// reshapes only the final draw). Reproducible: the draws come from a Philox stream seeded by the options. Buffers are
/// reused across calls, so sampling a token allocates nothing.</summary>
public sealed class SamplerChain
{
    readonly SamplingOptions _options;
    readonly Philox _rng;
    float[] _logits = [];
    int[] _order = [];
    float[] _probs = [];
    float[] _keys = [];
    readonly Dictionary<int, int> _counts = [];

    public SamplerChain(SamplingOptions options)
    {
        options.Validate();
        _options = options;
        _rng = new Philox(options.Seed);
    }

    /// <summary>The next token for <paramref name="logits"/>, given the tokens so far (for the penalties).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history) => Sample(logits, history, null);

    /// <summary>The next token, with <paramref name="processor"/> (a grammar mask, …) shaping the logits before the
    /// sampler's own stages. Tokens it sets to −∞ are never chosen. The processor is not told the choice: the caller
    /// calls <see cref="ILogitsProcessor.Accept"/> once it keeps the token.</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, ILogitsProcessor? processor)
    {
        int V = logits.Length;
        if (V == 0) throw new ArgumentException("sampler: empty logits.");
        if (_logits.Length != V) { _logits = new float[V]; _order = new int[V]; _probs = new float[V]; _keys = new float[V]; }
        logits.CopyTo(_logits);
        processor?.Process(_logits);
        ApplyBiasAndPenalties(history);
        if (_options.Temperature == 0) return ArgMax(_logits);

        // No truncating stage: draw from the whole tempered distribution, no sort needed (OpenAI's defaults).
        if (_options.TopK == 0 && _options.TopP >= 1 && _options.MinP == 0) return DrawUnsorted(V);

        int n = Candidates(V);
        double u = _rng.NextFloat(), acc = 0;
        for (int i = 0; i < n; i++)
        {
            acc += _probs[i];
            if (u < acc) return _order[i];
        }
        return _order[n - 1];
    }

    // The truncating stages on the processed logits: candidates best first (a top-k selection, O(V log k), when k is
    // set, else every finite logit sorted), then top-p, then min-p; leaves _probs[0..n) the tempered distribution over
    // _order[0..n) and returns n. Sample draws from it; Probabilities spreads it over the vocabulary.
    int Candidates(int V)
    {
        int n = _options.TopK > 0 ? SelectTopK(Math.Min(_options.TopK, V)) : SortFinite(V);
        if (n == 0) throw new InvalidOperationException("sampler: every token is masked.");
        Softmax(n, 1f);
        if (_options.TopP < 1)
        {
            double cumulative = 0;
            for (int i = 0; i < n; i++)
            {
                cumulative += _probs[i];
                if (cumulative >= _options.TopP) { n = i + 1; break; }
            }
        }
        if (_options.MinP > 0)
        {
            Softmax(n, 1f);
            float floor = _options.MinP * _probs[0];
            int keep = 1;
            while (keep < n && _probs[keep] >= floor) keep++;
            n = keep;
        }
        Softmax(n, _options.Temperature);
        return n;
    }

    // Softmax(logits / T) over the whole vocabulary in id order and one draw; masked (−∞) tokens have probability 0.
    // Vectorised: with a 32k–150k vocabulary this is most of a sampled token's cost.
    int DrawUnsorted(int V)
    {
        var logits = _logits.AsSpan(0, V);
        var probs = _probs.AsSpan(0, V);
        float max = TensorPrimitives.Max(logits);
        if (float.IsNegativeInfinity(max) || float.IsNaN(max)) throw new InvalidOperationException("sampler: every token is masked.");
        TensorPrimitives.Subtract(logits, max, probs);
        TensorPrimitives.Multiply(probs, 1f / _options.Temperature, probs);
        TensorPrimitives.Exp(probs, probs);
        double u = _rng.NextFloat() * TensorPrimitives.Sum(probs), acc = 0;
        int last = 0;
        for (int i = 0; i < V; i++)
        {
            if (probs[i] == 0) continue;
            acc += probs[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }

    // _order[0..k) = the k highest finite logits, best first (a min-heap of k keeps the scan O(V log k)); returns how
    // many there are (fewer than k when the rest are masked).
    int SelectTopK(int k)
    {
        int size = 0;
        for (int i = 0; i < _logits.Length; i++)
        {
            float l = _logits[i];
            if (float.IsNegativeInfinity(l) || float.IsNaN(l)) continue;
            if (size < k) { _order[size] = i; _keys[size] = l; SiftUp(size++); }
            else if (l > _keys[0]) { _order[0] = i; _keys[0] = l; SiftDown(size); }
        }
        // Heap sort in place: repeatedly move the smallest to the end, leaving the best first.
        for (int end = size - 1; end > 0; end--)
        {
            (_keys[0], _keys[end]) = (_keys[end], _keys[0]);
            (_order[0], _order[end]) = (_order[end], _order[0]);
            SiftDown(end);
        }
        return size;
    }

    void SiftUp(int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Less(i, parent)) break;
            Swap(i, parent);
            i = parent;
        }
    }

    void SiftDown(int size)
    {
        int i = 0;
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, smallest = i;
            if (l < size && Less(l, smallest)) smallest = l;
            if (r < size && Less(r, smallest)) smallest = r;
            if (smallest == i) return;
            Swap(i, smallest);
            i = smallest;
        }
    }

    // Heap order: lower logit first; on equal logits the higher id counts as lower, so the lower id ranks better.
    bool Less(int a, int b) => _keys[a] < _keys[b] || (_keys[a] == _keys[b] && _order[a] > _order[b]);

    void Swap(int a, int b)
    {
        (_keys[a], _keys[b]) = (_keys[b], _keys[a]);
        (_order[a], _order[b]) = (_order[b], _order[a]);
    }

    // Every finite logit sorted best first into _order; returns how many.
    int SortFinite(int V)
    {
        int n = 0;
        for (int i = 0; i < V; i++)
            if (!float.IsNegativeInfinity(_logits[i]) && !float.IsNaN(_logits[i])) { _order[n] = i; _keys[n] = -_logits[i]; n++; }
        Array.Sort(_keys, _order, 0, n);
        return n;
    }

    void ApplyBiasAndPenalties(ReadOnlySpan<int> history)
    {
        if (_options.LogitBias is { } bias)
            foreach (var (id, b) in bias)
                if ((uint)id < (uint)_logits.Length) _logits[id] += b;
        bool penalties = _options.RepetitionPenalty != 1 || _options.FrequencyPenalty != 0 || _options.PresencePenalty != 0;
        if (!penalties || history.IsEmpty) return;
        var window = _options.PenaltyWindow > 0 && history.Length > _options.PenaltyWindow ? history[^_options.PenaltyWindow..] : history;
        _counts.Clear();
        foreach (int t in window)
            if ((uint)t < (uint)_logits.Length) _counts[t] = _counts.GetValueOrDefault(t) + 1;
        foreach (var (t, count) in _counts)
        {
            float l = _logits[t];
            l = l > 0 ? l / _options.RepetitionPenalty : l * _options.RepetitionPenalty;
            _logits[t] = l - count * _options.FrequencyPenalty - _options.PresencePenalty;
        }
    }

    // _probs[i] = softmax over the first n sorted candidates of logit/temperature.
    void Softmax(int n, float temperature)
    {
        float max = _logits[_order[0]] / temperature;
        double sum = 0;
        for (int i = 0; i < n; i++) { _probs[i] = MathF.Exp(_logits[_order[i]] / temperature - max); sum += _probs[i]; }
        for (int i = 0; i < n; i++) _probs[i] = (float)(_probs[i] / sum);
    }

    static int ArgMax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>The distribution <see cref="Sample"/> draws from, written over the whole vocabulary: the logits after
    /// bias and penalties (given <paramref name="history"/>), cut by top-k, top-p and min-p, then softmax at the
    /// temperature; 0 outside the kept candidates, and one-hot at the greedy choice when the temperature is 0.
    /// Speculative decoding's acceptance rule (Leviathan et al. 2023; Chen et al. 2023) needs the target's and the
    /// draft's distributions whole, not one draw. Draws nothing from the chain's random stream.</summary>
    /// <remarks>Added beside <see cref="Sample"/> without touching it: the candidate cut is the same stages in the same
    /// order (a test checks that Sample's frequencies follow these probabilities).</remarks>
    public void Probabilities(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Span<float> probabilities)
    {
        int V = logits.Length;
        if (V == 0) throw new ArgumentException("sampler: empty logits.");
        if (probabilities.Length != V) throw new ArgumentException($"sampler: {probabilities.Length} probabilities for {V} logits.");
        if (_logits.Length != V) { _logits = new float[V]; _order = new int[V]; _probs = new float[V]; _keys = new float[V]; }
        logits.CopyTo(_logits);
        ApplyBiasAndPenalties(history);
        probabilities.Clear();
        if (_options.Temperature == 0) { probabilities[ArgMax(_logits)] = 1; return; }

        int n = Candidates(V);
        for (int i = 0; i < n; i++) probabilities[_order[i]] = _probs[i];
    }
}
