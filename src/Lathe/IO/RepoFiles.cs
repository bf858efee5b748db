namespace Lathe.IO;

/// <summary>Files the repository ships (data/, .peers/): looked up in the nearest folder holding Lathe.sln above the
/// working directory, else above the running program (the `./lathe` script runs the build output inside the repo),
/// else in the program's own folder when data/ was published beside it (the .NET tool, a single-file build).</summary>
public static class RepoFiles
{
    /// <summary>The repository folder (or the folder data/ was published to), or null when there is none.</summary>
    public static string? Root() => Roots().FirstOrDefault();

    /// <summary>The first existing file or folder at <paramref name="parts"/> under a repository root, or null.</summary>
    public static string? Find(params string[] parts)
    {
        foreach (string root in Roots())
        {
            string candidate = Path.Combine([root, .. parts]);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    static IEnumerable<string> Roots()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Lathe.sln"))) { yield return dir.FullName; break; }
        if (Directory.Exists(Path.Combine(AppContext.BaseDirectory, "data"))) yield return AppContext.BaseDirectory;
    }
}
