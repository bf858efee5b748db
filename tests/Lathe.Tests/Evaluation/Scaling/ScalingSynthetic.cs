using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>Synthetic runs whose losses come from a known law, with seeded multiplicative noise.</summary>
internal static class ScalingSynthetic
{
    /// <summary>The law the tests recover (the brief's constants, deliberately unlike Chinchilla's).</summary>
    public static readonly ChinchillaLaw Truth = new(E: 1.8, A: 300, B: 400, Alpha: 0.32, Beta: 0.29);

    /// <summary>N on 8 sizes from 10⁶ to 10⁹, D on 8 from 10⁸ to 10¹¹ (log-spaced): 64 runs spanning the range where
    /// both power-law terms are a sizeable share of the loss.</summary>
    public static List<ScalingRun> Grid(ChinchillaLaw law, double noise, int seed, int sizes = 8)
    {
        var rng = new Random(seed);
        var runs = new List<ScalingRun>();
        for (int i = 0; i < sizes; i++)
            for (int j = 0; j < sizes; j++)
            {
                double n = Math.Pow(10, 6 + 3.0 * i / (sizes - 1)), d = Math.Pow(10, 8 + 3.0 * j / (sizes - 1));
                double loss = law.Predict(n, d) * Math.Exp(noise * Normal(rng));
                runs.Add(ScalingRun.Create($"n{i}d{j}", n, d, loss));
            }
        return runs;
    }

    /// <summary>A standard normal draw (Box–Muller).</summary>
    public static double Normal(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
