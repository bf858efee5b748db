using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>The runs file: round trip, the default compute, and errors that name the file, line and field.</summary>
public class ScalingRunsFileTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "lathe-runs-" + Guid.NewGuid().ToString("N"));

    public ScalingRunsFileTests() => Directory.CreateDirectory(folder);
    public void Dispose() => Directory.Delete(folder, true);

    string Write(string text)
    {
        string path = Path.Combine(folder, "runs.jsonl");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Runs_round_trip_and_compute_defaults_to_six_N_D()
    {
        string path = Write("{\"name\":\"a\",\"parameters\":1.5e6,\"tokens\":3e7,\"loss\":3.25}\n\n{\"name\":\"b\",\"parameters\":2e6,\"tokens\":1e8,\"compute\":1.3e15,\"loss\":3.0}\n");
        var runs = ScalingRunsFile.Read(path);
        Assert.Equal(2, runs.Count);
        Assert.Equal(6 * 1.5e6 * 3e7, runs[0].Compute);
        Assert.Equal(1.3e15, runs[1].Compute);
        string copy = Path.Combine(folder, "copy.jsonl");
        ScalingRunsFile.Write(copy, runs);
        Assert.Equal(runs, ScalingRunsFile.Read(copy));
    }

    [Theory]
    [InlineData("{\"name\":\"a\",\"tokens\":3e7,\"loss\":3}", ":2: field \"parameters\" is missing")]
    [InlineData("{\"name\":\"a\",\"parameters\":\"big\",\"tokens\":3e7,\"loss\":3}", ":2: field \"parameters\" must be a number")]
    [InlineData("{\"name\":\"a\",\"parameters\":1e6,\"tokens\":3e7,\"loss\":-1}", ":2: field \"loss\" must be positive")]
    [InlineData("{\"name\":\"a\",\"parameters\":1e6,\"tokens\":0,\"loss\":3}", ":2: field \"tokens\" must be positive")]
    [InlineData("{\"name\":\"a\",\"parameters\":1e6,\"tokens\":3e7,\"compute\":\"x\",\"loss\":3}", ":2: field \"compute\" must be a number")]
    [InlineData("{\"parameters\":1e6,\"tokens\":3e7,\"loss\":3}", ":2: field \"name\" is missing")]
    [InlineData("[1, 2]", ":2: expected a JSON object")]
    [InlineData("{\"name\": oops}", ":2: not JSON")]
    public void A_bad_line_names_the_file_line_and_field(string badLine, string expected)
    {
        string path = Write("{\"name\":\"ok\",\"parameters\":1e6,\"tokens\":3e7,\"loss\":3}\n" + badLine + "\n");
        var e = Assert.Throws<InvalidDataException>(() => ScalingRunsFile.Read(path));
        Assert.StartsWith(path + expected, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void An_empty_file_is_an_error()
    {
        string path = Write("\n\n");
        Assert.Contains("no runs", Assert.Throws<InvalidDataException>(() => ScalingRunsFile.Read(path)).Message);
    }
}
