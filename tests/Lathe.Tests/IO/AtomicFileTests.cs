using System.Diagnostics;
using Lathe.IO;
using Lathe.Tests.Data;

namespace Lathe.Tests.IO;

/// <summary>The temporary files of writers killed mid-write: a dead process's are removed, a live one's and other
/// files are kept.</summary>
public class AtomicFileTests
{
    [Fact]
    public void Orphaned_temporaries_of_dead_writers_are_removed_and_nothing_else()
    {
        using var dir = new TempDir();
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        string guid = Guid.NewGuid().ToString("N");
        string orphan = dir.File($".metrics.jsonl.{gone.Id}.{guid}.tmp");
        string mine = dir.File($".state.json.{Environment.ProcessId}.{guid}.tmp");
        string parent = dir.File($".x.{Process.GetCurrentProcess().Parent()}.{guid}.tmp");
        string other = dir.File(".notes.tmp");
        foreach (string f in new[] { orphan, mine, parent, other, dir.File("metrics.jsonl") }) File.WriteAllText(f, "x");
        AtomicFile.RemoveOrphans(dir.Path);
        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(mine) && File.Exists(parent) && File.Exists(other) && File.Exists(dir.File("metrics.jsonl")));
    }
}

static class ProcessParent
{
    // The parent's pid from /proc (a process certainly alive while the test runs).
    public static int Parent(this Process p) =>
        int.Parse(File.ReadAllText($"/proc/{p.Id}/stat").Split(") ")[1].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
}
