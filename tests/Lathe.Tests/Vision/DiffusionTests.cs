using System.Text.Json;
using Lathe.Tensors;
using Lathe.Vision.Diffusion;

namespace Lathe.Tests.Vision;

/// <summary>The noise schedules, q(x_t|x_0), the DDPM and DDIM steps, the DDIM sub-sequence and classifier-free guidance
/// against the same formulas computed in PyTorch float64 by fixtures/make_dit_fixtures.py (diffusion.json).</summary>
public class DiffusionTests
{
    static readonly JsonElement Fixture =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", "diffusion.json"))).RootElement;

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
    static float[] Vector(string name) => Floats(Fixture.GetProperty("vectors").GetProperty(name));

    // The C# steps run in float32 on float32 inputs with double coefficients; the oracle is float64 throughout.
    static void AssertClose(string what, float[] expected, ReadOnlySpan<float> actual, double tolerance = 2e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("cosine")]
    public void Schedules_match_the_papers_beta_and_alpha_bar(string kind)
    {
        var schedule = NoiseSchedule.Create(kind, Fixture.GetProperty("T").GetInt32());
        int[] ts = Fixture.GetProperty("t").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var expected = Fixture.GetProperty(kind);
        double[] beta = expected.GetProperty("beta").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] alphaBar = expected.GetProperty("alpha_bar").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        for (int i = 0; i < ts.Length; i++)
        {
            Assert.True(Math.Abs(schedule.Betas[ts[i]] - beta[i]) <= 1e-12 * (1 + beta[i]), $"{kind} beta[{ts[i]}] {schedule.Betas[ts[i]]} vs {beta[i]}");
            Assert.True(Math.Abs(schedule.AlphaBars[ts[i]] - alphaBar[i]) <= 1e-10 * (1 + alphaBar[i]), $"{kind} alpha_bar[{ts[i]}] {schedule.AlphaBars[ts[i]]} vs {alphaBar[i]}");
        }
        Assert.True(schedule.Betas.All(b => b > 0 && b <= 0.999));
        for (int t = 1; t < schedule.Steps; t++) Assert.True(schedule.AlphaBars[t] < schedule.AlphaBars[t - 1]);
    }

    [Fact]
    public void Cosine_schedule_clips_beta_at_0_999()
    {
        var schedule = NoiseSchedule.Cosine(1000);
        Assert.Equal(0.999, schedule.Betas[^1]);              // f(T)/f(T−1) → 0 at the end, so 1 − ratio would exceed it
        Assert.True(schedule.Betas[^2] < 0.999);
    }

    [Fact]
    public void Q_sample_matches_the_closed_form()
    {
        var c = Fixture.GetProperty("q_sample");
        var ddpm = new Ddpm(NoiseSchedule.Create(c.GetProperty("schedule").GetString()!));
        var x0 = Vector("x0");
        var xt = new float[x0.Length];
        ddpm.AddNoise(x0, Vector("eps"), [c.GetProperty("t").GetInt32()], xt);
        AssertClose("x_t", Floats(c.GetProperty("xt")), xt);
    }

    [Theory]
    [InlineData("ddpm_step")]
    [InlineData("ddpm_step_t0")]
    public void Ddpm_step_matches_the_posterior_mean_plus_its_noise(string name)
    {
        var c = Fixture.GetProperty(name);
        var ddpm = new Ddpm(NoiseSchedule.Create(c.GetProperty("schedule").GetString()!));
        var xPrev = new float[12];
        ddpm.Step(Vector("xt"), Vector("eps"), c.GetProperty("t").GetInt32(), Vector("z"), xPrev);
        AssertClose(name, Floats(c.GetProperty("x_prev")), xPrev, 1e-5);
    }

    [Fact]
    public void Ddim_steps_match_song_et_al_eq_12_for_eta_0_and_above()
    {
        int cases = 0;
        foreach (var c in Fixture.GetProperty("ddim_steps").EnumerateArray())
        {
            var ddim = new Ddim(NoiseSchedule.Create(c.GetProperty("schedule").GetString()!));
            var xPrev = new float[12];
            int t = c.GetProperty("t").GetInt32(), tPrev = c.GetProperty("t_prev").GetInt32();
            float eta = (float)c.GetProperty("eta").GetDouble();
            ddim.Step(Vector("xt"), Vector("eps"), t, tPrev, eta, Vector("z"), xPrev);
            AssertClose($"ddim t={t}→{tPrev} η={eta}", Floats(c.GetProperty("x_prev")), xPrev, 1e-5);
            cases++;
        }
        Assert.Equal(4, cases);
    }

    [Fact]
    public void Ddim_eta_0_ignores_the_noise()
    {
        var ddim = new Ddim(NoiseSchedule.Linear());
        var a = new float[12];
        var b = new float[12];
        ddim.Step(Vector("xt"), Vector("eps"), 500, 480, 0f, Vector("z"), a);
        ddim.Step(Vector("xt"), Vector("eps"), 500, 480, 0f, new float[12], b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Ddim_timesteps_are_the_evenly_spaced_sub_sequence()
    {
        foreach (var c in Fixture.GetProperty("ddim_timesteps").EnumerateArray())
        {
            var ddim = new Ddim(NoiseSchedule.Linear(c.GetProperty("T").GetInt32()));
            Assert.Equal(c.GetProperty("tau").EnumerateArray().Select(e => e.GetInt32()), ddim.Timesteps(c.GetProperty("S").GetInt32()));
        }
        Assert.Contains("--sampling-steps 0", Assert.Throws<ArgumentException>(() => new Ddim(NoiseSchedule.Linear()).Timesteps(0)).Message);
    }

    [Fact]
    public void Guidance_combines_as_ho_and_salimans()
    {
        var gd = Fixture.GetProperty("guidance");
        float[] conditional = Floats(gd.GetProperty("eps_c")), unconditional = Floats(gd.GetProperty("eps_u"));
        foreach (var c in gd.GetProperty("cases").EnumerateArray())
        {
            var eps = new float[conditional.Length];
            float w = (float)c.GetProperty("w").GetDouble();
            ClassifierFreeGuidance.Combine(unconditional, conditional, w, eps);
            AssertClose($"w={w}", Floats(c.GetProperty("eps")), eps);
        }
    }

    [Fact]
    public void Unknown_schedule_is_refused_by_name()
    {
        Assert.Contains("--schedule 'quadratic'", Assert.Throws<ArgumentException>(() => NoiseSchedule.Create("quadratic")).Message);
    }
}
