using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Models;

/// <summary>A sparse Mixture-of-Experts feed-forward (Shazeer et al. 2017; Switch, Fedus et al. 2021; Mixtral,
/// Jiang et al. 2024) in place of a block's MLP: a router (C → E, no bias) scores each token, the softmax
/// probabilities' top k pick its experts, and the token's output is Σ gate · expert(x) over them.</summary>
/// <remarks>
/// <para>Gates: k = 1 uses the router probability itself (Switch); k ≥ 2 renormalises the k probabilities to sum
/// to 1 (Mixtral). Experts are picked on the router logits (the same order as the probabilities, without
/// softmax round-off ties).</para>
/// <para>Capacity (training passes only, i.e. while the tape records): each expert takes at most
/// ⌈capacity_factor · N · k / E⌉ of the N tokens. Assignments are served first choices before second choices, and
/// in token order within a choice (GShard's priority); the rest are dropped — the token's output lacks that
/// expert's term, so a token dropped by all its experts passes through the residual alone. Without gradients
/// (evaluation, decoding) every token reaches its experts, so a prompt run at once and token by token agree.</para>
/// <para>Auxiliary losses (training passes only), weighted by the config and summed over MoE layers into the
/// training loss: load balancing E · Σ_e f_e · P_e with f_e the fraction of the N·k choices (before capacity) that
/// picked e, per token (so Σ_e f_e = k, as Hugging Face Mixtral counts it), and P_e the mean router probability
/// of e; router z-loss mean_n (logsumexp_e logits[n, e])² (ST-MoE, Zoph et al. 2022).</para>
/// <para>Compute: tokens are gathered per expert (one <see cref="Ops.GatherRows"/>), each expert runs one GEMM per
/// projection on its rows, and <see cref="Ops.ScatterAddRows"/> adds the gated outputs back in a fixed order.</para>
/// <para>Names. llama (Hugging Face Mixtral): model.layers.L.block_sparse_moe.gate.weight (E, C),
/// …block_sparse_moe.experts.N.w1.weight (I, C), w2 (C, I), w3 (I, C) with expert(x) = w2(silu(w1 x) · w3 x).
/// gpt2 (our choice, in GPT-2's own style): transformer.h.L.mlp.gate.weight (E, C) and
/// transformer.h.L.mlp.experts.N.c_fc / c_proj as GPT-2 Conv1D weights (in, out) with biases.</para>
/// </remarks>
internal sealed class MixtureOfExperts
{
    readonly LinearLayer _router;
    readonly Expert[] _experts;
    readonly int _k;
    readonly float _capacityFactor, _auxCoef, _zCoef;

    // Routing scratch, grown as needed and reused every step.
    int[] _top = [], _flatGate = [], _rows = [], _gateOfRow = [], _counts = [], _kept = [], _start = [];
    readonly Tensor[] _outputs;

    /// <summary>The last forward's routing: k expert indices per token (N·k, row-major, best first).</summary>
    public ReadOnlySpan<int> LastExperts => _top.AsSpan(0, LastTokens * _k);
    public int LastTokens { get; private set; }
    /// <summary>Token-expert assignments dropped for capacity in the last forward.</summary>
    public int LastDropped { get; private set; }
    /// <summary>Unweighted load-balancing and z-loss of the last training forward (0 when not recorded).</summary>
    public double LastBalanceLoss { get; private set; }
    public double LastZLoss { get; private set; }
    /// <summary>The weighted auxiliary loss of the last forward (tape-owned scalar), or null when the tape did not
    /// record or both weights are 0.</summary>
    public Tensor? LastAuxLoss { get; private set; }

    MixtureOfExperts(LinearLayer router, Expert[] experts, ModelConfig c)
    {
        _router = router;
        _experts = experts;
        _k = c.ExpertsPerToken;
        _capacityFactor = c.CapacityFactor;
        _auxCoef = c.RouterAuxLossCoef;
        _zCoef = c.RouterZLossCoef;
        _outputs = new Tensor[experts.Length];
    }

    /// <summary>GPT-2 experts: GELU(tanh) MLPs of Conv1D layers, named transformer.h.L.mlp.*.</summary>
    public static MixtureOfExperts Gpt2(ParameterBuilder p, ModelConfig c, string prefix, float std, float residualStd)
    {
        var router = LinearLayer.NoBias(p, prefix + ".gate", c.Embd, c.NumExperts, std);
        var experts = new Expert[c.NumExperts];
        for (int e = 0; e < experts.Length; e++)
        {
            string n = $"{prefix}.experts.{e}";
            experts[e] = new Expert(LinearLayer.Conv1D(p, n + ".c_fc", c.Embd, c.Intermediate, std), null,
                LinearLayer.Conv1D(p, n + ".c_proj", c.Intermediate, c.Embd, residualStd));
        }
        return new MixtureOfExperts(router, experts, c);
    }

    /// <summary>Mixtral experts: SwiGLU MLPs w2(silu(w1 x) · w3 x), named model.layers.L.block_sparse_moe.*.</summary>
    public static MixtureOfExperts Mixtral(ParameterBuilder p, ModelConfig c, string prefix, float std, float residualStd)
    {
        var router = LinearLayer.NoBias(p, prefix + ".gate", c.Embd, c.NumExperts, std);
        var experts = new Expert[c.NumExperts];
        for (int e = 0; e < experts.Length; e++)
        {
            string n = $"{prefix}.experts.{e}";
            var w1 = LinearLayer.NoBias(p, n + ".w1", c.Embd, c.Intermediate, std);
            var w2 = LinearLayer.NoBias(p, n + ".w2", c.Intermediate, c.Embd, residualStd);
            var w3 = LinearLayer.NoBias(p, n + ".w3", c.Embd, c.Intermediate, std);
            experts[e] = new Expert(w1, w3, w2);
        }
        return new MixtureOfExperts(router, experts, c);
    }

    /// <summary>Extra matmul FLOPs per token over a dense model with the same intermediate size: k − 1 more expert
    /// MLPs and the router, in each MoE layer.</summary>
    public static double ExtraFlopsPerToken(ModelConfig c)
    {
        if (c.NumExperts == 0) return 0;
        int layers = 0;
        for (int l = 0; l < c.Layers; l++) if (c.IsMoeLayer(l)) layers++;
        double mlp = 2.0 * c.Embd * c.Intermediate * (c.ModelType == "llama" ? 3 : 2);
        return layers * ((c.ExpertsPerToken - 1) * mlp + 2.0 * c.Embd * c.NumExperts);
    }

    /// <summary>(B, T, C) or (N, C) → the same shape.</summary>
    public Tensor Forward(Tensor x)
    {
        int C = x.Dim(-1), N = x.Length / C, E = _experts.Length, k = _k;
        bool training = Tape.IsRecording;
        var x2 = Ops.Reshape(x, N, C);                                    // (N,C)
        var logits = _router.Forward(x2);                                 // (N,E)
        var probs = Ops.Softmax(logits);                                  // (N,E)
        LastTokens = N;
        Grow(ref _top, N * k);
        var top = _top.AsSpan(0, N * k);
        Ops.TopK(logits, k, top);

        // Gates: the chosen probabilities (N,k), renormalised for k ≥ 2.
        Grow(ref _flatGate, N * k);
        for (int n = 0; n < N; n++)
            for (int j = 0; j < k; j++) _flatGate[n * k + j] = n * E + top[n * k + j];
        var gates = Ops.Reshape(Ops.GatherRows(Ops.Reshape(probs, N * E, 1), _flatGate.AsSpan(0, N * k)), N, k);
        if (k > 1) gates = Ops.Div(gates, Ops.Sum(gates, 1, keepDim: true));

        // Dispatch: first choices before second choices, tokens in order, up to the capacity per expert.
        Grow(ref _counts, E); Grow(ref _kept, E); Grow(ref _start, E + 1);
        Array.Clear(_counts, 0, E); Array.Clear(_kept, 0, E);
        for (int i = 0; i < N * k; i++) _counts[top[i]]++;
        int capacity = training && _capacityFactor > 0 ? (int)Math.Ceiling(_capacityFactor * N * k / (double)E) : int.MaxValue;
        int dropped = 0;
        for (int j = 0; j < k; j++)
            for (int n = 0; n < N; n++)
            {
                int e = top[n * k + j];
                if (_kept[e] < capacity) _kept[e]++;
                else { dropped++; _flatGate[n * k + j] = -1; }   // marks the assignment dropped
            }
        LastDropped = dropped;
        _start[0] = 0;
        for (int e = 0; e < E; e++) _start[e + 1] = _start[e] + _kept[e];
        int M = _start[E];
        Grow(ref _rows, M); Grow(ref _gateOfRow, M);
        Array.Clear(_kept, 0, E);   // now the fill cursor of each expert's segment
        for (int j = 0; j < k; j++)
            for (int n = 0; n < N; n++)
            {
                if (_flatGate[n * k + j] < 0) continue;
                int e = top[n * k + j], at = _start[e] + _kept[e]++;
                _rows[at] = n;
                _gateOfRow[at] = n * k + j;
            }

        // Experts: one gather, a GEMM per projection per expert on its rows, one weighted scatter-add.
        var rows = _rows.AsSpan(0, M);
        var xe = Ops.GatherRows(x2, rows);                                 // (M,C), grouped by expert
        int used = 0;
        for (int e = 0; e < E; e++)
        {
            // An idle expert still runs (on 0 rows): the graph keeps one shape from step to step, so the tape's
            // slots line up and a steady-state step allocates nothing; its gradient is then 0, as in PyTorch.
            int count = _start[e + 1] - _start[e];
            _outputs[used++] = _experts[e].Forward(Ops.Narrow(xe, 0, _start[e], count));
        }
        var ye = used == 1 ? _outputs[0] : Ops.Concat(_outputs.AsSpan(0, used), 0);     // (M,C)
        var w = Ops.GatherRows(Ops.Reshape(gates, N * k, 1), _gateOfRow.AsSpan(0, M)); // (M,1)
        var y = Ops.ScatterAddRows(ye, rows, N, w);                        // (N,C)
        Array.Clear(_outputs, 0, used);

        LastAuxLoss = null;
        LastBalanceLoss = LastZLoss = 0;
        if (training) LastAuxLoss = AuxiliaryLoss(logits, probs, N, E);
        return Ops.Reshape(y, x.Shape);
    }

    // α · E · Σ_e f_e · P_e + β · mean_n lse_n², on the tape.
    unsafe Tensor? AuxiliaryLoss(Tensor logits, Tensor probs, int N, int E)
    {
        // f_e is a count (no gradient): fold α·E·f_e/N into a constant row so the loss is Σ_{n,e} probs·w_e.
        var weights = Tape.NewResult([E]);
        double balance = 0;
        for (int e = 0; e < E; e++)
        {
            double f = _counts[e] / (double)N;
            weights.Data[e] = (float)(_auxCoef * E * f / N);
            double pe = 0;
            for (int n = 0; n < N; n++) pe += probs.Data[(long)n * E + e];
            balance += f * pe / N;
        }
        LastBalanceLoss = E * balance;
        // logsumexp = logit − log softmax, read at column 0: exact for every row and free of overflow.
        var lse = Ops.Sub(Ops.Narrow(logits, 1, 0, 1), Ops.Narrow(Ops.LogSoftmax(logits), 1, 0, 1));   // (N,1)
        var z2 = Ops.Mul(lse, lse);
        double z = 0;
        var zs = z2.AsSpan();
        for (int n = 0; n < N; n++) z += zs[n];
        LastZLoss = z / N;
        Tensor? loss = null;
        if (_auxCoef > 0) loss = Ops.SumAll(Ops.Mul(probs, weights));
        if (_zCoef > 0)
        {
            var zl = Ops.Scale(Ops.MeanAll(z2), _zCoef);
            loss = loss is null ? zl : Ops.Add(loss, zl);
        }
        return loss;
    }

    static void Grow(ref int[] a, int n) { if (a.Length < n) a = new int[Math.Max(n, 2 * a.Length)]; }

    /// <summary>One expert: GELU MLP (up = null) or SwiGLU (gate, up, down).</summary>
    sealed class Expert(LinearLayer first, LinearLayer? up, LinearLayer down)
    {
        public Tensor Forward(Tensor x) => up is null
            ? down.Forward(Ops.Gelu(first.Forward(x), tanhApproximation: true))
            : down.Forward(Ops.SwiGlu(first.Forward(x), up.Forward(x)));
    }
}
