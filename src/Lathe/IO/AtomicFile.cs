namespace Lathe.IO;

/// <summary>Writes files so that a reader (or a crash) never sees one half-written: the bytes go to a
/// temporary file in the same folder, are flushed to disk, and the temporary file is renamed over the
/// target, which is atomic on one file system.</summary>
public static class AtomicFile
{
    /// <summary>Writes a file through <paramref name="write"/>, then flushes and renames it into place.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            KillPoints.Reach(KillPoints.FileWrite);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Deletes the temporary files that writers killed mid-write left in <paramref name="dir"/> (named
    /// <c>.NAME.PID.GUID.tmp</c> by <see cref="Write"/>): those of processes no longer alive. A live writer's — another
    /// process's, or this one's — are kept. Nothing reads them; this only stops them piling up over kills and resumes.</summary>
    public static void RemoveOrphans(string dir)
    {
        if (!Directory.Exists(dir)) return;
        foreach (string file in Directory.EnumerateFiles(dir, ".*.tmp"))
        {
            string[] parts = Path.GetFileName(file).Split('.');
            // "", NAME (possibly with dots), PID, GUID, "tmp"
            if (parts.Length < 5 || parts[^2].Length != 32 || !int.TryParse(parts[^3], out int pid) || pid == Environment.ProcessId || Alive(pid)) continue;
            try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static bool Alive(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });
}
