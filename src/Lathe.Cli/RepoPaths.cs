namespace Lathe.Cli;

/// <summary>Where the repository's shipped data lives (<see cref="Lathe.IO.RepoFiles"/>), else the working directory.</summary>
internal static class RepoPaths
{
    public static string Root() => Lathe.IO.RepoFiles.Root() ?? Directory.GetCurrentDirectory();
}
