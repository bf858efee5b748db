using System.Text.Json;
using Lathe.Knowledge;

namespace Lathe.Tests.Knowledge.Corpus;

/// <summary>The data script's JavaScript name key (scripts/data/kg/namekey.mjs) against the C# <see cref="NameKey"/>:
/// the fixture holds every non-ASCII name and alias of the shipped graph and hand-made edge cases with the key the
/// script computed (node scripts/data/kg/namekey-cases.mjs). Were they to differ, the script's alias de-duplication
/// and its "no invented name is real" check would not hold for the store and the linker.</summary>
public class NameKeyTwinTests
{
    [Fact]
    public void Script_and_library_give_every_name_the_same_key()
    {
        var cases = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Knowledge", "Corpus", "fixtures", "namekey-cases.json")))
            .RootElement.EnumerateArray().Select(c => (Name: c[0].GetString()!, Key: c[1].GetString()!)).ToList();
        Assert.True(cases.Count > 1000, $"{cases.Count} cases");
        var wrong = cases.Where(c => NameKey.Of(c.Name) != c.Key).Select(c => $"{c.Name} → {NameKey.Of(c.Name)} (script: {c.Key})").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong.Take(20)));
        // The fixture is current: every non-ASCII name and alias of the shipped graph is in it.
        var covered = cases.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        using (var reader = new StreamReader(new System.IO.Compression.GZipStream(
                   File.OpenRead(Path.Combine(Lathe.Tests.Data.Peers.RepoRoot, "data", "kg", "graph.jsonl.gz")), System.IO.Compression.CompressionMode.Decompress)))
            while (reader.ReadLine() is { } line)
            {
                var row = JsonDocument.Parse(line).RootElement;
                if (!row.TryGetProperty("entity", out _)) continue;
                foreach (var name in row.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()!).Append(row.GetProperty("name").GetString()!))
                    Assert.True(name.All(char.IsAscii) || covered.Contains(name), $"{name}: not in the fixture (run node scripts/data/kg/namekey-cases.mjs)");
            }
        // The edge cases are in: a separate combining accent is dropped, a letter outside the BMP is not a letter here.
        Assert.Contains(cases, c => c.Name == "Cafe\u0301" && c.Key == "cafe");
        Assert.Contains(cases, c => c.Name == "x\U0001D538y" && c.Key == "xy");
    }
}
