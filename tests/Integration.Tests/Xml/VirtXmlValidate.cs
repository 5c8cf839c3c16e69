using System.Diagnostics;

namespace VfioMigration.Integration.Tests.Xml;

/// <summary>Runs libvirt's <c>virt-xml-validate FILE domain</c> (the RNG schemas under /usr/share/libvirt/schemas).</summary>
internal static class VirtXmlValidate
{
    /// <summary>Validates <paramref name="path"/> as a domain; returns the exit code and everything the tool printed.</summary>
    internal static (int ExitCode, string Output) Domain(string path)
    {
        var start = new ProcessStartInfo("virt-xml-validate")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(path);
        start.ArgumentList.Add("domain");
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.GetAwaiter().GetResult());
    }
}
