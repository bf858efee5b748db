using Lathe.Evaluation.Scaling;
namespace Lathe.Tests.Evaluation.Scaling;
public class TmpDumpTests
{
    [Fact]
    public void Dump()
    {
        var truth = ScalingSynthetic.Truth;
        var runs = ScalingSynthetic.Grid(truth, 0.005, seed: 2, sizes: 5);
        double c = 4 * runs.Max(r => r.Compute), n = truth.OptimalParameters(c);
        var analysis = ScalingAnalysis.Run(runs, [ScalingRun.Create("big", n, c / (6 * n), truth.Predict(n, c / (6 * n)))],
            new ScalingAnalysisOptions { Fit = new ChinchillaFitOptions { Grid = ChinchillaGrid.Small } });
        string dir = Environment.GetEnvironmentVariable("H16_DUMP") ?? "/tmp/h16/out";
        Directory.CreateDirectory(dir);
        ScalingPlots.WriteAll(dir, analysis);
    }
}
