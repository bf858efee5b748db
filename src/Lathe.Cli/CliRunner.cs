using System.CommandLine;

namespace Lathe.Cli;

/// <summary>Thrown for bad arguments or bad input; becomes a one-line message and exit code 2.</summary>
public sealed class UserInputException(string message) : Exception(message);

internal static class CliRunner
{
    public static int Run(Command root, string[] args)
    {
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
                Console.Error.WriteLine($"lathe: {error.Message}");
            return 2;
        }
        try
        {
            // Our handler below turns exceptions into one-line messages and exit codes, not the library's stack trace.
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"lathe: {e.Message}");
            return 2;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"lathe: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    // Errors that describe the caller's input rather than a fault of ours.
    static bool IsUserError(Exception e) =>
        e is UserInputException or ArgumentException or FileNotFoundException or DirectoryNotFoundException
          or InvalidDataException or FormatException;
}
