using System.Text.Json;
using Lathe.Alignment;
using Lathe.Formats;
using Lathe.Formats.Peft;
using Lathe.Models;
using Lathe.Training;

namespace Lathe.Cli.KillSweep;

/// <summary>What a kill may leave on disk, read the way a resume or a user reads it: every file a run folder shows
/// (its temporaries — dot-files and checkpoint.tmp*/ folders, which nothing reads — aside) must open. A checkpoint
/// folder's config.json and model.safetensors load as a model, trainer_state.json and ppo_state.json parse as states,
/// adapter folders read as PEFT adapters, every safetensors file's header and tensor sizes hold, and JSON and JSONL
/// parse.</summary>
internal static class CheckpointAudit
{
    /// <summary>The problems found, one line each naming the file (empty when everything reads).</summary>
    public static List<string> Check(string runDir)
    {
        var problems = new List<string>();
        if (Directory.Exists(runDir)) Walk(runDir, problems);
        return problems;
    }

    /// <summary>The temporaries a kill left behind (files and folders nothing reads), relative to the run folder.</summary>
    public static List<string> Temporaries(string runDir)
    {
        var found = new List<string>();
        if (!Directory.Exists(runDir)) return found;
        foreach (string path in Directory.EnumerateFileSystemEntries(runDir, "*", SearchOption.AllDirectories))
            if (IsTemporary(Path.GetFileName(path)) && !Path.GetRelativePath(runDir, path).Split(Path.DirectorySeparatorChar)[..^1].Any(IsTemporary))
                found.Add(Path.GetRelativePath(runDir, path));
        return found;
    }

    /// <summary>A name only a writer in progress uses: AtomicFile's ".name.pid.guid.tmp", the swap's checkpoint.tmp/ and
    /// a publish's checkpoint.tmp-GUID/.</summary>
    public static bool IsTemporary(string name) => name.StartsWith('.') || name.StartsWith(Checkpoint.Folder + ".tmp", StringComparison.Ordinal);

    static void Walk(string dir, List<string> problems)
    {
        Try(problems, dir, () => CheckFolder(dir));
        foreach (string file in Directory.GetFiles(dir))
            if (!IsTemporary(Path.GetFileName(file))) Try(problems, file, () => CheckFile(file));
        foreach (string sub in Directory.GetDirectories(dir))
            if (!IsTemporary(Path.GetFileName(sub))) Walk(sub, problems);
    }

    // A folder as a whole: a model checkpoint loads as a model; an adapter folder reads as one.
    static void CheckFolder(string dir)
    {
        if (File.Exists(Path.Combine(dir, Checkpoint.ConfigFile)) && File.Exists(Path.Combine(dir, Checkpoint.ModelFile)))
            Checkpoint.LoadAny(dir).Dispose();
        if (File.Exists(Path.Combine(dir, PeftAdapterFolder.ConfigFile))) PeftAdapterFolder.Read(dir);
    }

    static void CheckFile(string file)
    {
        string name = Path.GetFileName(file);
        if (name == Checkpoint.StateFile) TrainerState.Load(file);
        else if (name == PpoState.FileName) PpoState.Load(file);
        else if (name == Checkpoint.ConfigFile && File.Exists(Path.Combine(Path.GetDirectoryName(file)!, Checkpoint.ModelFile))) ModelConfig.Load(file);
        else if (name.EndsWith(".safetensors", StringComparison.Ordinal))
        {
            using var st = SafetensorsFile.Open(file);
            foreach (var entry in st.Entries.Values)
                if (st.Bytes(entry.Name).Length != entry.ElementCount * SafetensorsFile.DTypeSize(entry.DType))
                    throw new InvalidDataException($"tensor '{entry.Name}' holds {st.Bytes(entry.Name).Length} bytes, not {entry.ElementCount} × {entry.DType}");
        }
        else if (name.EndsWith(".json", StringComparison.Ordinal)) JsonDocument.Parse(File.ReadAllBytes(file)).Dispose();
        else if (name.EndsWith(".jsonl", StringComparison.Ordinal))
        {
            int line = 0;
            foreach (string text in File.ReadLines(file))
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                try { JsonDocument.Parse(text).Dispose(); }
                catch (JsonException e) { throw new InvalidDataException($"line {line}: {e.Message.Split('\n')[0]}"); }
            }
        }
    }

    static void Try(List<string> problems, string path, Action check)
    {
        try { check(); }
        catch (Exception e) when (e is IOException or InvalidDataException or JsonException or ArgumentException or FormatException or InvalidOperationException or UnauthorizedAccessException)
        {
            problems.Add($"{path}: {e.Message.Split('\n')[0]}");
        }
    }
}
