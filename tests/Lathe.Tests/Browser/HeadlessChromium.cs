using System.Diagnostics;
using System.Text.Json;
using Lathe.Tests.Data;

namespace Lathe.Tests.Browser;

/// <summary>A fact that needs Debian's Chromium: skipped, with the reason, only when the browser is absent (CI installs
/// it); a missing playwright-core is a failure, since scripts/install-peers.sh always provides it.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (!File.Exists(HeadlessChromium.Executable))
            Skip = $"{HeadlessChromium.Executable} is missing: install Debian's chromium (apt-get install chromium) or set LATHE_CHROMIUM";
    }
}

/// <summary>Opens a local HTML file in headless Chromium through js/screenshot.mjs (playwright-core from the npm peers)
/// and returns the script's JSON line: the page title, the boxes of its SVG elements, requests beyond the file itself,
/// page errors. The screenshot is saved to the path given.</summary>
internal static class HeadlessChromium
{
    public static string Executable => Environment.GetEnvironmentVariable("LATHE_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium";

    static string PlaywrightModule => Path.Combine(Peers.NodeModules, "playwright-core", "index.mjs");

    public static JsonElement Screenshot(string html, string png, int width = 1200)
    {
        Assert.True(File.Exists(PlaywrightModule), $"{PlaywrightModule} is missing: run scripts/install-peers.sh");
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "js", "screenshot.mjs"), html, png, "--chromium", Executable, "--width", width.ToString() })
            psi.ArgumentList.Add(a);
        psi.Environment["PLAYWRIGHT_MODULE"] = new Uri(PlaywrightModule).AbsoluteUri;
        using var node = Process.Start(psi)!;
        var stderr = node.StandardError.ReadToEndAsync();
        string stdout = node.StandardOutput.ReadToEnd();
        if (!node.WaitForExit(120_000)) { node.Kill(entireProcessTree: true); Assert.Fail("screenshot.mjs did not finish in 120 s"); }
        Assert.True(node.ExitCode == 0, $"node screenshot.mjs exited {node.ExitCode}: {stderr.Result}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.Clone();
    }
}
