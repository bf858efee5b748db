using System.CommandLine;
using Lathe.Cli;

// The `lathe` command: one verb per stage, one file per verb (Verbs/). Errors at the edge become
// one-line messages and exit codes: 0 success, 1 runtime failure, 2 bad arguments or bad input.
var root = new RootCommand("Lathe: a large-language-model system in pure C#.");
foreach (Command verb in VerbRegistry.All())
    root.Subcommands.Add(verb);
return CliRunner.Run(root, args);
