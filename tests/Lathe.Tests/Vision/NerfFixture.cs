using System.Text.Json.Nodes;
using Lathe.Tests.Data;

namespace Lathe.Tests.Vision;

/// <summary>fixtures/nerf_fixtures.json (written by fixtures/make_nerf_fixtures.py from the scene script, numpy and
/// PyTorch) and the shipped scene folder data/nerf-scene (written by scripts/gen/nerf_scene.py).</summary>
internal static class NerfFixture
{
    static readonly Lazy<JsonNode> Root = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", "nerf_fixtures.json")))!);

    public static JsonNode Get(string name) => Root.Value[name]!;

    public static float[] Floats(JsonNode node) => node.AsArray().Select(v => (float)v!.GetValue<double>()).ToArray();
    public static double[] Doubles(JsonNode node) => node.AsArray().Select(v => v!.GetValue<double>()).ToArray();

    public static string SceneFolder => Path.Combine(Peers.RepoRoot, "data", "nerf-scene");

    public static void Close(string what, float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{what}[{i}]: {actual[i]} vs reference {expected[i]}");
    }
}
