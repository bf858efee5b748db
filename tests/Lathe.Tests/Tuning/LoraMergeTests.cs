using Lathe.Models;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>Merging ΔW = s·B·A into the base and taking it out again, and several adapters over one base switched
/// without copying weights.</summary>
public class LoraMergeTests
{
    [Theory]
    [InlineData("gpt2", "gpt2-all-linear")]
    [InlineData("llama", "llama-all-linear")]
    [InlineData("llama", "llama-q_v")]
    public void Merged_logits_equal_the_adapters_and_unmerging_restores_the_weights(string arch, string adapter)
    {
        using var model = LoraParityTests.Base(arch);
        int[] ids = LoraMethodTests.Ids(16, 1, vocab: 97);
        float[] plain = LoraMethodTests.Logits(model, ids, 2, 8);
        var weights = model.Linears.Select(l => l.Weight.ToArray()).ToArray();
        using var lora = LoraMethod.Load(model, LoraParityTests.Fixture(adapter));
        float[] adapted = LoraMethodTests.Logits(model, ids, 2, 8);
        lora.Merge();
        Assert.True(lora.IsMerged);
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));                // the base alone computes the adapted model
        float[] merged = LoraMethodTests.Logits(model, ids, 2, 8);
        double worst = 0, effect = 0;
        for (int i = 0; i < adapted.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(adapted[i] - merged[i]));
            effect = Math.Max(effect, Math.Abs(adapted[i] - plain[i]));
        }
        Assert.True(worst <= 1e-5, $"merged logits differ from the adapter's by {worst:G3}");
        Assert.True(effect > 1e-2, $"the adapter barely changes the logits ({effect:G3}): the test would prove nothing");
        lora.Unmerge();
        Assert.True(lora.IsAttached);
        var linears = model.Linears.ToArray();
        for (int l = 0; l < linears.Length; l++)
        {
            var now = linears[l].Weight.ToArray();
            var adapterOf = lora.Adapters.FirstOrDefault(a => a.Layer == linears[l]);
            for (int i = 0; i < now.Length; i++)
            {
                // (W + ΔW) − ΔW in float: within one rounding of W + ΔW (2⁻²⁴ relative), and exact where no adapter is.
                double bound = adapterOf is null ? 0 : 1.2e-7 * (Math.Abs(weights[l][i]) + 1);
                Assert.True(Math.Abs(now[i] - weights[l][i]) <= bound, $"{linears[l].Name}[{i}]: {now[i]} vs {weights[l][i]}");
            }
        }
        Assert.True(MaxDiff(adapted, LoraMethodTests.Logits(model, ids, 2, 8)) <= 1e-5);   // unmerged: the adapter's logits again
        lora.Merge();
        lora.Detach();   // a merged adapter is taken out of the weights when detached
        Assert.True(MaxDiff(plain, LoraMethodTests.Logits(model, ids, 2, 8)) <= 1e-5);
    }

    [Fact]
    public void Several_adapters_over_one_base_switch_per_request()
    {
        int[] ids = LoraMethodTests.Ids(16, 2, vocab: 97);
        float[] Alone(string? adapter)
        {
            using var model = LoraParityTests.Base("gpt2");
            if (adapter is null) return LoraMethodTests.Logits(model, ids, 2, 8);
            using var lora = LoraMethod.Load(model, LoraParityTests.Fixture(adapter));
            return LoraMethodTests.Logits(model, ids, 2, 8);
        }
        float[] plain = Alone(null), small = Alone("gpt2-c_attn"), wide = Alone("gpt2-all-linear");
        Assert.False(small.AsSpan().SequenceEqual(wide));

        using var shared = LoraParityTests.Base("gpt2");
        using var library = new LoraLibrary(shared);
        library.Add("attn", LoraParityTests.Fixture("gpt2-c_attn"));
        library.Add("all", LoraParityTests.Fixture("gpt2-all-linear"));
        Assert.Null(library.Active);
        var weights = shared.Parameters.Select(p => p.Value.ToArray()).ToArray();
        foreach (var name in new[] { "attn", "all", "attn", null, "all", null, "all", "attn" })
        {
            library.Use(name);
            Assert.Equal(name, library.Active);
            float[] want = name switch { "attn" => small, "all" => wide, _ => plain };
            Assert.True(want.AsSpan().SequenceEqual(LoraMethodTests.Logits(shared, ids, 2, 8)), $"logits with '{name ?? "none"}' differ from that adapter alone");
        }
        for (int i = 0; i < weights.Length; i++) Assert.True(weights[i].AsSpan().SequenceEqual(shared.Parameters[i].Value.AsSpan()));   // no weight copies or edits
        var e = Assert.Throws<ArgumentException>(() => library.Use("missing"));
        Assert.Contains("attn, all", e.Message);
        Assert.Equal("attn", library.Active);
        library.Remove("attn");
        Assert.Null(library.Active);
        Assert.All(shared.Linears, l => Assert.Null(l.Adapter));
    }

    static double MaxDiff(float[] a, float[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
