// The dashboard's page, script and style (tools/graph-runner/dashboard/page/), compiled into
// graph-runner by embed_assets.cmake: the page always matches the server that sends it.
#pragma once

#include <string_view>

namespace gradflow::runner::dashboard::assets {

extern const std::string_view kIndexHtml;
extern const std::string_view kDashboardJs;
extern const std::string_view kDashboardCss;

}  // namespace gradflow::runner::dashboard::assets
