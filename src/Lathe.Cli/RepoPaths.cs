namespace Lathe.Cli;

/// <summary>Where the repository's shipped data lives: the folder holding Lathe.sln above the running binary (the
/// `./lathe` script runs from the build output inside the repo), else the working directory.</summary>
internal static class RepoPaths
{
    public static string Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Lathe.sln"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }
}
