using System.Text.Json;
using Lathe.Alignment;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Alignment;

/// <summary>The alignment losses, GAE, whitening, KL estimators and KL controllers against PyTorch
/// (scripts/fixtures/make_alignment_reference.py → fixtures/alignment_reference.json, float64 from float32 inputs),
/// plus the closed forms: DPO = ln 2 at policy = reference, IPO = 0 at logits = 1/(2β), PPO at ratio 1, GAE with
/// γ = λ = 1.</summary>
public class AlignmentLossTests
{
    static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Alignment", "fixtures", "alignment_reference.json"))).RootElement;

    // Float32 arithmetic against a float64 reference: within 1e-5 relative, with a floor of 1e-6 under which values
    // are compared absolutely (a gradient element of 1e-9 has no meaningful relative error at float precision).
    const double Tolerance = 1e-5;

    static float[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
    static double Number(JsonElement e, string name) => e.GetProperty(name).GetDouble();

    static void Close(string what, double expected, double actual, double floor = 1e-6) =>
        Assert.True(Math.Abs(actual - expected) <= Tolerance * Math.Max(Math.Abs(expected), floor),
            $"{what}: {actual:R} vs PyTorch {expected:R}");

    static void Close(string what, float[] expected, ReadOnlySpan<float> actual, double floor = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Close($"{what}[{i}]", expected[i], actual[i], floor);
    }

    static Tensor Leaf(float[] values)
    {
        var t = Tensor.FromArray(values, values.Length);
        t.RequiresGrad = true;
        return t;
    }

    [Theory]
    [InlineData("bt")]
    [InlineData("bt_margin")]
    public void BradleyTerry_matches_PyTorch(string name)
    {
        var c = Reference.GetProperty(name);
        using var chosen = Leaf(Floats(c, "chosen"));
        using var rejected = Leaf(Floats(c, "rejected"));
        float[] margins = Floats(c, "margins");
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = PreferenceLosses.BradleyTerry(chosen, rejected, margins);
            Close("loss", Number(c, "loss"), loss.Item());
            tape.Backward(loss);
        }
        Close("grad_chosen", Floats(c, "grad_chosen"), chosen.Grad!.AsSpan());
        Close("grad_rejected", Floats(c, "grad_rejected"), rejected.Grad!.AsSpan());
    }

    [Fact]
    public void BradleyTerry_gradient_raises_the_chosen_reward_and_lowers_the_rejected()
    {
        using var chosen = Leaf([0.3f, -1f, 2f]);
        using var rejected = Leaf([0.5f, -2f, 2f]);
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(PreferenceLosses.BradleyTerry(chosen, rejected, [0f, 1f, 0f]));
        var gc = chosen.Grad!.ToArray();
        var gr = rejected.Grad!.ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(gc[i] < 0f, $"pair {i}: a descent step must raise the chosen reward");
            Assert.Equal(-gc[i], gr[i]);
            // d/dr_c of −logσ(d)/B is −σ(−d)/B; pair 2 has d = 0: −½/3.
        }
        Assert.Equal(-0.5f / 3f, gc[2], 6);
    }

    [Theory]
    [InlineData("dpo_sigmoid")]
    [InlineData("dpo_cdpo")]
    [InlineData("dpo_ipo")]
    public void Dpo_matches_PyTorch_with_TRLs_logged_rewards(string name)
    {
        var c = Reference.GetProperty(name);
        var settings = new DpoSettings((float)Number(c, "beta"), c.GetProperty("loss_type").GetString() == "ipo" ? DpoLossType.Ipo : DpoLossType.Sigmoid,
            (float)Number(c, "label_smoothing"));
        using var pc = Leaf(Floats(c, "policy_chosen"));
        using var pr = Leaf(Floats(c, "policy_rejected"));
        DpoStats stats;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = PreferenceLosses.Dpo(pc, pr, Floats(c, "reference_chosen"), Floats(c, "reference_rejected"), settings, out stats);
            Close("loss", Number(c, "loss"), loss.Item());
            tape.Backward(loss);
        }
        Close("grad_chosen", Floats(c, "grad_chosen"), pc.Grad!.AsSpan());
        Close("grad_rejected", Floats(c, "grad_rejected"), pr.Grad!.AsSpan());
        Close("rewards/chosen", Number(c, "rewards_chosen"), stats.RewardsChosen);
        Close("rewards/rejected", Number(c, "rewards_rejected"), stats.RewardsRejected);
        Close("rewards/margins", Number(c, "rewards_margins"), stats.Margin);
        Assert.Equal(Number(c, "rewards_accuracies"), stats.Accuracy);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    public void Dpo_loss_is_ln2_when_the_policy_is_the_reference(int pairs)
    {
        var rng = new Random(pairs);
        float[] chosen = Enumerable.Range(0, pairs).Select(_ => -(float)rng.NextDouble() * 50).ToArray();
        float[] rejected = Enumerable.Range(0, pairs).Select(_ => -(float)rng.NextDouble() * 50).ToArray();
        using var pc = Leaf(chosen);
        using var pr = Leaf(rejected);
        const float Beta = 0.1f;
        DpoStats stats;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = PreferenceLosses.Dpo(pc, pr, chosen, rejected, new DpoSettings(Beta), out stats);
            Assert.Equal((float)Math.Log(2), loss.Item());
            tape.Backward(loss);
        }
        Assert.Equal(new DpoStats(0f, 0f, 0f, 0f), stats);
        // d/dπ_c of −logσ(β·logits)/B at logits = 0 is −β·½/B; π_r gets the opposite.
        foreach (float g in pc.Grad!.ToArray()) Assert.Equal(-Beta * 0.5f / pairs, g, 7);
        foreach (float g in pr.Grad!.ToArray()) Assert.Equal(Beta * 0.5f / pairs, g, 7);
    }

    [Fact]
    public void Dpo_takes_chosen_and_rejected_as_views_of_one_concatenated_batch()
    {
        // As TRL's concatenated forward: one (2B) tensor of sequence log-probs, chosen first, then rejected — here a
        // (2B, T) per-token tensor summed over T and narrowed, so the gradient reaches the tokens through the views.
        var c = Reference.GetProperty("dpo_cdpo");
        float[] pc = Floats(c, "policy_chosen"), pr = Floats(c, "policy_rejected");
        int B = pc.Length;
        const int T = 4;
        var tokens = new float[2 * B * T];
        for (int i = 0; i < B; i++)
            for (int t = 0; t < T; t++) { tokens[i * T + t] = pc[i] / T; tokens[(B + i) * T + t] = pr[i] / T; }
        using var leaf = Tensor.FromArray(tokens, 2 * B, T);
        leaf.RequiresGrad = true;
        var settings = new DpoSettings((float)Number(c, "beta"), DpoLossType.Sigmoid, (float)Number(c, "label_smoothing"));
        using var tape = new Tape();
        using (tape.Activate())
        {
            var sums = Ops.Sum(leaf, 1);                                                  // (2B)
            var loss = PreferenceLosses.Dpo(Ops.Narrow(sums, 0, 0, B), Ops.Narrow(sums, 0, B, B),
                Floats(c, "reference_chosen"), Floats(c, "reference_rejected"), settings, out _);
            Assert.Equal(Number(c, "loss"), loss.Item(), 4);
            tape.Backward(loss);
        }
        float[] gc = Floats(c, "grad_chosen"), gr = Floats(c, "grad_rejected"), g = leaf.Grad!.ToArray();
        for (int i = 0; i < B; i++)
            for (int t = 0; t < T; t++)
            {
                Close($"chosen token ({i},{t})", gc[i], g[i * T + t]);
                Close($"rejected token ({i},{t})", gr[i], g[(B + i) * T + t]);
            }
    }

    [Fact]
    public void Ipo_is_zero_with_zero_gradient_at_logits_one_over_two_beta()
    {
        // β = 0.25: 1/(2β) = 2 = (−10 − −12) − (−11 − −11), all exact in float.
        using var pc = Leaf([-10f, -3f]);
        using var pr = Leaf([-12f, -5f]);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = PreferenceLosses.Dpo(pc, pr, [-11f, -7f], [-11f, -7f], new DpoSettings(0.25f, DpoLossType.Ipo), out _);
            Assert.Equal(0f, loss.Item());
            tape.Backward(loss);
        }
        Assert.All(pc.Grad!.ToArray(), g => Assert.Equal(0f, g));
        Assert.All(pr.Grad!.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Ppo_policy_loss_matches_PyTorch()
    {
        var c = Reference.GetProperty("ppo_policy");
        using var lp = Leaf(Floats(c, "log_probs"));
        PolicyStats stats;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = PpoLosses.ClippedPolicyLoss(lp, Floats(c, "old_log_probs"), Floats(c, "advantages"), Floats(c, "mask"), (float)Number(c, "clip"), out stats);
            Close("loss", Number(c, "loss"), loss.Item());
            tape.Backward(loss);
        }
        Close("grad_log_probs", Floats(c, "grad_log_probs"), lp.Grad!.AsSpan());
        Assert.Equal(Number(c, "clip_fraction"), stats.ClipFraction, 6);
        Assert.True(stats.ClipFraction > 0f && stats.ClipFraction < 1f, "the fixture must exercise both branches");
        Close("approx_kl", Number(c, "approx_kl"), stats.ApproxKl);
    }

    [Fact]
    public void Ppo_policy_loss_at_ratio_one_is_minus_the_masked_mean_advantage()
    {
        float[] logp = [-1f, -2f, -0.5f, -3f], adv = [1f, -2f, 0.5f, 4f], mask = [0f, 1f, 1f, 1f];
        using var lp = Leaf(logp);
        PolicyStats stats;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = PpoLosses.ClippedPolicyLoss(lp, logp, adv, mask, 0.2f, out stats);
            Assert.Equal(-(-2f + 0.5f + 4f) / 3f, loss.Item(), 6);
            tape.Backward(loss);
        }
        Assert.Equal(new PolicyStats(0f, 0f), stats);
        // d/dlogp of −A·e^(logp − old)·m/Σm at logp = old is −A·m/Σm.
        var g = lp.Grad!.ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(-adv[i] * mask[i] / 3f, g[i], 6);
    }

    [Fact]
    public void Ppo_policy_loss_ignores_what_padding_holds()
    {
        // Position 2 is padding with a log-prob gap of 200: exp would overflow, and ∞·0 would be a NaN gradient.
        float[] logp = [-1f, -2f, 0f], old = [-1.1f, -1.9f, -200f], adv = [1f, -1f, 5f];
        using var a = Leaf(logp);
        using var b = Leaf(logp[..2]);
        using var tape = new Tape();
        float la, lb;
        using (tape.Activate()) { var l = PpoLosses.ClippedPolicyLoss(a, old, adv, [1f, 1f, 0f], 0.2f, out _); la = l.Item(); tape.Backward(l); }
        tape.Reset();
        using (tape.Activate()) { var l = PpoLosses.ClippedPolicyLoss(b, old[..2], adv[..2], [1f, 1f], 0.2f, out _); lb = l.Item(); tape.Backward(l); }
        Assert.Equal(lb, la);
        Assert.Equal(b.Grad!.ToArray(), a.Grad!.ToArray()[..2]);
        Assert.Equal(0f, a.Grad!.ToArray()[2]);
    }

    [Fact]
    public void Ppo_value_loss_matches_PyTorch()
    {
        var c = Reference.GetProperty("ppo_value");
        using var v = Leaf(Floats(c, "values"));
        float clipFraction;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = PpoLosses.ClippedValueLoss(v, Floats(c, "old_values"), Floats(c, "returns"), Floats(c, "mask"), (float)Number(c, "clip"), out clipFraction);
            Close("loss", Number(c, "loss"), loss.Item());
            tape.Backward(loss);
        }
        Close("grad_values", Floats(c, "grad_values"), v.Grad!.AsSpan());
        Assert.Equal(Number(c, "clip_fraction"), clipFraction, 6);
        Assert.True(clipFraction > 0f && clipFraction < 1f, "the fixture must exercise both branches");
    }

    [Fact]
    public void Masked_entropy_matches_PyTorch_Categorical()
    {
        var c = Reference.GetProperty("entropy");
        float[] logits = Floats(c, "logits");
        int v = c.GetProperty("V").GetInt32();
        using var x = Tensor.FromArray(logits, logits.Length / v, v);
        Close("entropy", Number(c, "entropy"), PpoLosses.MaskedEntropy(x, Floats(c, "mask")));
        // A uniform row has entropy log V.
        using var uniform = Tensor.Full(3f, 2, 7);
        Assert.Equal((float)Math.Log(7), PpoLosses.MaskedEntropy(uniform, [1f, 1f]), 6);
    }

    [Fact]
    public void Gae_matches_PyTorch()
    {
        var c = Reference.GetProperty("gae");
        int B = c.GetProperty("B").GetInt32(), T = c.GetProperty("T").GetInt32();
        var advantages = new float[B * T];
        var returns = new float[B * T];
        Advantages.Gae(Floats(c, "rewards"), Floats(c, "values"), Floats(c, "mask"), B, T, (float)Number(c, "gamma"), (float)Number(c, "lambda"), advantages, returns);
        Close("advantages", Floats(c, "advantages"), advantages);
        Close("returns", Floats(c, "returns"), returns);
    }

    [Fact]
    public void Gae_with_gamma_and_lambda_one_is_the_reward_to_go_minus_the_value()
    {
        // One row, response at positions 1..3: A_t = Σ_{k≥t} r_k − V_t, returns = Σ_{k≥t} r_k.
        float[] rewards = [9f, 1f, 2f, 4f, 9f], values = [5f, 0.5f, -1f, 3f, 5f], mask = [0f, 1f, 1f, 1f, 0f];
        var a = new float[5];
        var r = new float[5];
        Advantages.Gae(rewards, values, mask, 1, 5, 1f, 1f, a, r);
        Assert.Equal([0f, 7f - 0.5f, 6f + 1f, 4f - 3f, 0f], a);
        Assert.Equal([0f, 7f, 6f, 4f, 0f], r);
        // λ = 0: one-step TD errors, δ_t = r_t + V_{t+1} − V_t, with V after the response 0.
        Advantages.Gae(rewards, values, mask, 1, 5, 1f, 0f, a, r);
        Assert.Equal([0f, 1f + -1f - 0.5f, 2f + 3f + 1f, 4f - 3f, 0f], a);
    }

    [Fact]
    public void Whiten_matches_TRLs_masked_whiten()
    {
        var c = Reference.GetProperty("whiten");
        float[] mask = Floats(c, "mask");
        float[] shifted = Floats(c, "x"), unshifted = Floats(c, "x");
        Advantages.Whiten(shifted, mask);
        Advantages.Whiten(unshifted, mask, shiftMean: false);
        Close("shifted", Floats(c, "shifted"), shifted);
        Close("unshifted", Floats(c, "unshifted"), unshifted);
    }

    [Fact]
    public void Kl_estimators_match_PyTorch_including_the_near_zero_cancellation()
    {
        var c = Reference.GetProperty("kl");
        float[] logp = Floats(c, "logp"), refLogp = Floats(c, "ref");
        var k1 = new float[logp.Length];
        var k3 = new float[logp.Length];
        Advantages.KlK1(logp, refLogp, k1);
        Advantages.KlK3(logp, refLogp, k3);
        Close("k1", Floats(c, "k1"), k1);
        // k3 goes down to ~1e-13 here: compare relatively all the way down.
        Close("k3", Floats(c, "k3"), k3, floor: 1e-30);
        Assert.All(k3, k => Assert.True(k >= 0f));
        Assert.Equal(0f, Advantages.KlK3(-2f, -2f));
    }

    [Fact]
    public void Adaptive_kl_controller_matches_Ziegler_et_al_and_resumes_from_its_float()
    {
        var c = Reference.GetProperty("adaptive_kl");
        float target = (float)Number(c, "target");
        int horizon = c.GetProperty("horizon").GetInt32(), steps = c.GetProperty("n_steps").GetInt32();
        float[] kls = Floats(c, "kls"), expected = Floats(c, "values");
        var controller = new AdaptiveKlController((float)Number(c, "initial"), target, horizon);
        var resumed = default(AdaptiveKlController);
        for (int i = 0; i < kls.Length; i++)
        {
            controller.Update(kls[i], steps);
            Assert.True(Math.Abs(controller.Value - expected[i]) <= 1e-6 * expected[i], $"step {i}: {controller.Value} vs {expected[i]}");
            if (i == 2) resumed = new AdaptiveKlController(controller.Value, target, horizon);
            else if (i > 2) { resumed!.Update(kls[i], steps); Assert.Equal(controller.Value, resumed.Value); }
        }
        var fixedKl = new FixedKlController(0.05f);
        fixedKl.Update(100f, 256);
        Assert.Equal(0.05f, fixedKl.Value);
    }

    [Fact]
    public void The_same_inputs_give_the_same_bits()
    {
        var c = Reference.GetProperty("ppo_policy");
        float[] Run()
        {
            using var lp = Leaf(Floats(c, "log_probs"));
            using var tape = new Tape();
            float loss;
            using (tape.Activate())
            {
                var l = PpoLosses.ClippedPolicyLoss(lp, Floats(c, "old_log_probs"), Floats(c, "advantages"), Floats(c, "mask"), 0.2f, out _);
                loss = l.Item();
                tape.Backward(l);
            }
            return [loss, .. lp.Grad!.ToArray()];
        }
        Assert.Equal(Run().Select(BitConverter.SingleToInt32Bits), Run().Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Bad_input_is_a_one_line_error_naming_the_parameter()
    {
        Assert.Contains("Beta", Assert.Throws<ArgumentException>(() => new DpoSettings(Beta: 0f).Validate()).Message);
        Assert.Contains("LabelSmoothing", Assert.Throws<ArgumentException>(() => new DpoSettings(LabelSmoothing: 0.5f).Validate()).Message);
        Assert.Contains("LabelSmoothing", Assert.Throws<ArgumentException>(() => new DpoSettings(0.1f, DpoLossType.Ipo, 0.1f).Validate()).Message);
        using var a = Leaf([1f, 2f]);
        using var b = Leaf([1f, 2f, 3f]);
        Assert.Contains("run under an active tape", Assert.Throws<InvalidOperationException>(() => PreferenceLosses.BradleyTerry(a, a)).Message);
        using var tape = new Tape();
        using (tape.Activate())
        {
            Assert.Contains("rejectedRewards", Assert.Throws<ArgumentException>(() => PreferenceLosses.BradleyTerry(a, b)).Message);
            Assert.Contains("margins", Assert.Throws<ArgumentException>(() => PreferenceLosses.BradleyTerry(a, a, [1f])).Message);
            Assert.Contains("referenceRejected[1]", Assert.Throws<ArgumentException>(() => PreferenceLosses.Dpo(a, a, [0f, 0f], [0f, float.NaN], new DpoSettings(), out _)).Message);
            Assert.Contains("mask selects no element", Assert.Throws<ArgumentException>(() => PpoLosses.ClippedPolicyLoss(a, [0f, 0f], [1f, 1f], [0f, 0f], 0.2f, out _)).Message);
            Assert.Contains("clip", Assert.Throws<ArgumentException>(() => PpoLosses.ClippedValueLoss(a, [0f, 0f], [1f, 1f], [1f, 1f], 0f, out _)).Message);
            Assert.Contains("advantages", Assert.Throws<ArgumentException>(() => PpoLosses.ClippedPolicyLoss(a, [0f, 0f], [1f], [1f, 1f], 0.2f, out _)).Message);
        }
        var o = new float[4];
        Assert.Contains("gap before position 3", Assert.Throws<ArgumentException>(() => Advantages.Gae(new float[4], new float[4], [1f, 1f, 0f, 1f], 1, 4, 1f, 1f, o, o)).Message);
        Assert.Contains("row 1, position 0", Assert.Throws<ArgumentException>(() => Advantages.Gae(new float[4], new float[4], [1f, 1f, 0.5f, 1f], 2, 2, 1f, 1f, o, o)).Message);
        Assert.Contains("gamma", Assert.Throws<ArgumentException>(() => Advantages.Gae(new float[4], new float[4], new float[4], 1, 4, 1.5f, 1f, o, o)).Message);
        Assert.Contains("more than 1", Assert.Throws<ArgumentException>(() => Advantages.Whiten(new float[3], [0f, 1f, 0f])).Message);
        Assert.Contains("horizon", Assert.Throws<ArgumentException>(() => new AdaptiveKlController(0.1f, 6f, 0)).Message);
    }
    [Fact]
    public void A_repeated_loss_step_allocates_nothing()
    {
        var dpo = Reference.GetProperty("dpo_cdpo");
        var ppo = Reference.GetProperty("ppo_policy");
        var value = Reference.GetProperty("ppo_value");
        float[] refc = Floats(dpo, "reference_chosen"), refr = Floats(dpo, "reference_rejected");
        float[] old = Floats(ppo, "old_log_probs"), adv = Floats(ppo, "advantages"), mask = Floats(ppo, "mask");
        float[] oldV = Floats(value, "old_values"), returns = Floats(value, "returns");
        using var pc = Leaf(Floats(dpo, "policy_chosen"));
        using var pr = Leaf(Floats(dpo, "policy_rejected"));
        using var lp = Leaf(Floats(ppo, "log_probs"));
        using var v = Leaf(Floats(value, "values"));
        var settings = new DpoSettings(0.5f, DpoLossType.Sigmoid, 0.2f);
        using var tape = new Tape();
        void Step()
        {
            tape.Reset();
            using (tape.Activate())
            {
                var loss = Ops.Add(PreferenceLosses.Dpo(pc, pr, refc, refr, settings, out _), PreferenceLosses.BradleyTerry(pc, pr, refc));
                loss = Ops.Add(loss, PpoLosses.ClippedPolicyLoss(lp, old, adv, mask, 0.2f, out _));
                loss = Ops.Add(loss, PpoLosses.ClippedValueLoss(v, oldV, returns, mask, 0.2f, out _));
                tape.Backward(loss);
            }
        }
        Step(); Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
